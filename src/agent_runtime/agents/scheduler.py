"""Run slots shared fairly between users. At most `total` runs execute at
once (MAX_CONCURRENT_RUNS) and at most `per_user` of them belong to one user
(MAX_CONCURRENT_RUNS_PER_USER); when a slot frees, the users that wait take
turns (round robin), each user's runs in the order they asked. One user's
many (or hanging) runs therefore never keep another user's run waiting
behind them.

A run that pauses for a human gives its slot back (`release`) and asks
again (`acquire`) when it goes on."""

from __future__ import annotations

import asyncio
import collections


class FairScheduler:
    def __init__(self, total: int, per_user: int):
        if total <= 0 or per_user <= 0:
            raise ValueError("total and per_user must be positive")
        self._total = total
        self._per_user = per_user
        self._running: collections.Counter[str] = collections.Counter()
        self._waiting: dict[str, collections.deque[asyncio.Future]] = {}
        # Users with waiting runs, in the order they get their next turn.
        self._turns: collections.deque[str] = collections.deque()

    @property
    def running(self) -> int:
        return sum(self._running.values())

    def running_for(self, user: str) -> int:
        return self._running[user]

    def would_wait(self, user: str) -> bool:
        """Whether `acquire(user)` would wait now."""
        return bool(self._waiting.get(user)) or not self._has_room(user)

    async def acquire(self, user: str) -> None:
        """Waits for a slot for one of `user`'s runs."""
        if not self.would_wait(user):
            self._running[user] += 1
            return
        granted = asyncio.get_running_loop().create_future()
        queue = self._waiting.setdefault(user, collections.deque())
        queue.append(granted)
        if user not in self._turns:
            self._turns.append(user)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                # Granted as the waiter was cancelled: hand the slot on.
                self.release(user)
            else:
                self._forget(user, granted)
            raise

    def release(self, user: str) -> None:
        """Frees a slot that `acquire(user)` gave."""
        if self._running[user] <= 0:
            raise RuntimeError(f"release without acquire for {user!r}")
        self._running[user] -= 1
        if not self._running[user]:
            del self._running[user]
        self._dispatch()

    def _has_room(self, user: str) -> bool:
        return self.running < self._total and self._running[user] < self._per_user

    def _dispatch(self) -> None:
        """Grants free slots to waiting users in turn, one run per turn; a
        user at their cap keeps their place for the next free slot."""
        granted_one = True
        while granted_one and self.running < self._total:
            granted_one = False
            for _ in range(len(self._turns)):
                if self.running >= self._total:
                    return
                user = self._turns.popleft()
                queue = self._waiting[user]
                # A waiter cancelled a moment ago is still queued until its
                # task runs; it needs no slot.
                while queue and queue[0].done():
                    queue.popleft()
                if queue and self._running[user] < self._per_user:
                    queue.popleft().set_result(None)
                    self._running[user] += 1
                    granted_one = True
                if queue:
                    self._turns.append(user)
                else:
                    del self._waiting[user]

    def _forget(self, user: str, granted: asyncio.Future) -> None:
        queue = self._waiting.get(user)
        if queue is None or granted not in queue:
            return
        queue.remove(granted)
        if not queue:
            del self._waiting[user]
            self._turns.remove(user)
