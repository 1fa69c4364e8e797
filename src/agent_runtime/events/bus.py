"""In-process publish/subscribe for live feeds.

Publishers call `publish` after their write committed, so a subscriber never
sees something storage does not have. Each subscriber has a bounded queue; one
that falls behind is marked `overflowed` instead of slowing publishers or
growing without bound, and resynchronises from storage by sequence number.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Subscription(Generic[T]):
    def __init__(self, bus: "EventBus[T]", accepts: Callable[[T], bool], capacity: int):
        self._bus = bus
        self._accepts = accepts
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize=capacity)
        self.overflowed = False

    def offer(self, item: T) -> None:
        if self.overflowed or not self._accepts(item):
            return
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.resync()

    def resync(self) -> None:
        """Marks the subscription overflowed: its `get` returns None at
        once, and the subscriber rereads from storage."""
        if not self.overflowed:
            self.overflowed = True
            self._wake()

    def _wake(self) -> None:
        # A waiting `get` must return to notice the overflow: drop what is
        # queued (the subscriber rereads it from storage) and leave a marker.
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)  # type: ignore[arg-type]

    async def get(self) -> T | None:
        """The next item, or None once the subscription overflowed."""
        item = await self._queue.get()
        return None if self.overflowed else item

    def reset(self) -> None:
        """Clears the overflow after the subscriber resynchronised."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self.overflowed = False

    def close(self) -> None:
        self._bus._subscriptions.discard(self)


class EventBus(Generic[T]):
    def __init__(self, subscriber_capacity: int = 1024):
        self._subscriptions: set[Subscription[T]] = set()
        self._capacity = subscriber_capacity

    def subscribe(self, accepts: Callable[[T], bool] = lambda _item: True) -> Subscription[T]:
        subscription = Subscription(self, accepts, self._capacity)
        self._subscriptions.add(subscription)
        return subscription

    def publish(self, item: T) -> None:
        for subscription in list(self._subscriptions):
            subscription.offer(item)

    def resync(self) -> None:
        """Every subscriber rereads from storage: items may have been lost
        on their way to the bus (a relay that stopped listening a while)."""
        for subscription in list(self._subscriptions):
            subscription.resync()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)


class RelayedBus(EventBus[T]):
    """A bus on which some items reach subscribers through a relay instead
    of from their publisher: on PostgreSQL the session feed's events come
    back from the database's notifications, this process's and every other
    process's, in commit order (storage/postgres/relay.py). `publish` drops
    the items `relayed` names; the relay delivers them with
    `publish_relayed`."""

    def __init__(self, relayed: Callable[[T], bool], subscriber_capacity: int = 1024):
        super().__init__(subscriber_capacity)
        self._relayed = relayed

    def publish(self, item: T) -> None:
        if not self._relayed(item):
            super().publish(item)

    def publish_relayed(self, item: T) -> None:
        super().publish(item)
