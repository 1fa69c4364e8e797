"""LISTEN/NOTIFY: every process's watchers see events written by any
process.

Each append transaction sends a notification (a batch of session events:
its last feed sequence, sessions.py; a task event: its task and sequence, a
trigger of migration 0005): ids only, delivered after the commit and in
commit order. A listener on its own connection takes them and a
single worker reads the events and publishes them on this process's
in-process buses, in the order they came.

Session events: the feed's watchers skip what is not after the last feed
sequence they saw, so they must get the events of all processes in feed
order. The notifications are in that order (appenders commit in feed order,
see sessions.py); a process's own appends are published by its sessions
service at once, which could overtake another process's earlier event still
on its way. So on PostgreSQL the session bus lets through only what comes
back as a notification: every process's events, this
one's included, one stream in commit order (events.bus.RelayedBus).

Task events: a task's watchers reread storage when a sequence number is
missing, so the run's own process publishes at once and only other
processes' events come through here."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Callable

import asyncpg
import structlog

from agent_runtime.agents.models import TaskEventRecord
from agent_runtime.sessions.models import FeedItem
from agent_runtime.storage.postgres.agents.tasks import PostgresTaskRepository
from agent_runtime.storage.postgres.channels import RUNS, SESSION_EVENTS, TASK_EVENTS
from agent_runtime.storage.postgres.database import APPLICATION_PREFIX, Database, postgres_errors_as_database_error
from agent_runtime.storage.postgres.sessions import PostgresSessionRepository

log = structlog.get_logger(__name__)



# Seconds between attempts to listen again after the connection was lost.
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
# With no notification for this long, the relay reads the feed anyway.
SAFETY_POLL_SECONDS = 1.0
# Publish every committed session event not published yet.
CATCH_UP = (SESSION_EVENTS, {"origin": "", "feed_sequence": None})


class NotificationRelay:
    def __init__(
        self,
        database: Database,
        sessions: PostgresSessionRepository,
        tasks: PostgresTaskRepository,
    ):
        self._database = database
        self._sessions = sessions
        self._task_store = tasks
        self._publish_feed_event: Callable[[FeedItem], None] = lambda _item: None
        self._publish_task_event: Callable[[TaskEventRecord], None] = lambda _event: None
        self._run_watchers: list[Callable[[str], None]] = []
        self._origin = APPLICATION_PREFIX + database.origin
        self._received: asyncio.Queue[tuple[str, dict]] = asyncio.Queue()
        self._connection: asyncpg.Connection | None = None
        self._tasks: set[asyncio.Task] = set()
        # The last feed sequence published: a notification of feed sequence
        # N publishes every event after it up to N. Appenders commit in feed
        # order, so all of those are committed, and one notification that
        # never came (a lost connection) costs nothing.
        self._published_feed = 0

    async def start(
        self, publish_feed_event: Callable[[FeedItem], None], publish_task_event: Callable[[TaskEventRecord], None]
    ) -> None:
        """Listens, and from then on hands every process's session events
        (in commit order) and other processes' task events to these."""
        self._publish_feed_event, self._publish_task_event = publish_feed_event, publish_task_event
        with postgres_errors_as_database_error():
            await self._listen()
        self._published_feed = await self._sessions.last_feed_sequence()
        self._spawn(self._relay(), "postgres-notification-relay")

    def watch_runs(self, watcher: Callable[[str], None]) -> None:
        """`watcher(task_id)` for each task whose run became claimable or
        was asked to stop, on any process (the agent runner's claims)."""
        self._run_watchers.append(watcher)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._connection is not None and not self._connection.is_closed():
            self._connection.remove_termination_listener(self._lost)
            await self._connection.close()

    def _spawn(self, work, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(self) -> None:
        connection = await asyncpg.connect(
            self._database.dsn, server_settings={"application_name": self._origin + ":listener"}
        )
        for channel in (SESSION_EVENTS, TASK_EVENTS):
            await connection.add_listener(channel, self._notified)
        await connection.add_listener(RUNS, self._run_changed)
        connection.add_termination_listener(self._lost)
        self._connection = connection

    def _notified(self, _connection, _pid: int, channel: str, payload: str) -> None:
        self._received.put_nowait((channel, json.loads(payload)))

    def _run_changed(self, _connection, _pid: int, _channel: str, task_id: str) -> None:
        for watcher in self._run_watchers:
            watcher(task_id)

    def _lost(self, _connection) -> None:
        log.error("storage.notifications_lost", detail="listening again; live feeds catch up from the table")
        self._spawn(self._listen_again(), "postgres-notification-reconnect")

    async def _listen_again(self) -> None:
        for attempt in itertools.count():
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("storage.notifications_reconnect_failed", error=str(error), attempt=attempt + 1)
                continue
            log.info("storage.notifications_restored")
            # What committed while nobody listened: everything up to now.
            self._received.put_nowait(CATCH_UP)
            return

    async def _relay(self) -> None:
        while True:
            try:
                batch = [await asyncio.wait_for(self._received.get(), SAFETY_POLL_SECONDS)]
            except asyncio.TimeoutError:
                # A quiet second: read the feed anyway, in case the
                # listener's connection stopped delivering without closing.
                batch = [CATCH_UP]
            while not self._received.empty():
                batch.append(self._received.get_nowait())
            try:
                await self._publish(batch)
            except Exception as error:  # noqa: BLE001 - the relay outlives one failed read
                log.error("storage.notification_relay_failed", error=str(error))

    async def _publish(self, batch: list[tuple[str, dict]]) -> None:
        feed = [note["feed_sequence"] for channel, note in batch if channel == SESSION_EVENTS]
        if feed:
            up_to = None if None in feed else max(feed)
            for event, owner in await self._sessions.feed_after(self._published_feed, up_to):
                self._publish_feed_event(FeedItem("event", event.session_id, event=event, owner_id=owner))
                self._published_feed = event.feed_sequence
        for channel, note in batch:
            if channel == TASK_EVENTS and note["origin"] != self._origin:
                event = await self._task_store.task_event(note["task_id"], note["sequence"])
                if event is not None:
                    self._publish_task_event(event)
