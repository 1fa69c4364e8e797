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

Task events and fine-tuning jobs' events: their watchers reread storage
when a sequence number is missing, so the writing process publishes at
once and only other processes' events come through here. When the relay
may have missed some (it listened again after losing its connection, or
failed to read a batch), it tells all of those watchers to reread: the
one they missed may have been a task's or job's last.

Other processes' session changes (created, updated, deleted: the /ws
session list) come through here too: a change an appended event made is
published just before that event, as the appending process publishes them;
the session is read when the change is published, so it may show a later
state.

Compute tasks run on the process that accepted them. Other processes' task
changes are published on this process's compute bus in commit order (the
writer publishes its own), and a request to cancel a task is handed to the
compute service, which cancels it if it runs here (compute.py). A relay that
may have missed notifications also looks for requests to cancel its tasks.

Fine-tuning jobs that became claimable or were cancelled (ids, a trigger of
migration 0014) wake the job runner (ml/jobs.py), which claims them or
stops the worker of a job cancelled elsewhere; its lease sweeps and
renewals catch what a lost notification missed."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Awaitable, Callable

import asyncpg
import structlog

from agent_runtime.agents.models import TaskEventRecord
from agent_runtime.compute.records import TaskRecord as ComputeTaskRecord
from agent_runtime.ml.models import JobEvent
from agent_runtime.sessions.models import FeedItem
from agent_runtime.storage.postgres.agents.tasks import PostgresTaskRepository
from agent_runtime.storage.postgres.channels import (
    COMPUTE_CANCEL_REQUESTS,
    COMPUTE_TASK_CHANGES,
    JOB_EVENTS,
    JOBS,
    RUNS,
    SESSION_CHANGES,
    SESSION_EVENTS,
    TASK_EVENTS,
)
from agent_runtime.storage.postgres.compute import PostgresTaskRepository as PostgresComputeTaskRepository
from agent_runtime.storage.postgres.ml import PostgresJobRepository
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
        jobs: PostgresJobRepository,
        compute_tasks: PostgresComputeTaskRepository,
    ):
        self._database = database
        self._sessions = sessions
        self._task_store = tasks
        self._jobs = jobs
        self._compute_tasks = compute_tasks
        self._publish_feed_event: Callable[[FeedItem], None] = lambda _item: None
        self._publish_task_event: Callable[[TaskEventRecord], None] = lambda _event: None
        self._publish_job_event: Callable[[JobEvent], None] = lambda _event: None
        self._missed_events: Callable[[], None] = lambda: None
        # Watchers of the channels whose notifications are an id (a task's, a job's).
        self._id_watchers: dict[str, list[Callable[[str], None]]] = {RUNS: [], JOBS: []}
        self._publish_compute_change: Callable[[ComputeTaskRecord], None] = lambda _task: None
        self._cancel_compute_task: Callable[[str], Awaitable[None]] | None = None
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
        self,
        publish_feed_event: Callable[[FeedItem], None],
        publish_task_event: Callable[[TaskEventRecord], None],
        publish_job_event: Callable[[JobEvent], None],
        missed_events: Callable[[], None],
    ) -> None:
        """Listens, and from then on hands every process's session events
        (in commit order), other processes' session changes, task events
        and job events to these; calls `missed_events` when task or job
        events may have been missed."""
        self._publish_feed_event, self._publish_task_event = publish_feed_event, publish_task_event
        self._publish_job_event, self._missed_events = publish_job_event, missed_events
        with postgres_errors_as_database_error():
            await self._listen()
        self._published_feed = await self._sessions.last_feed_sequence()
        self._spawn(self._relay(), "postgres-notification-relay")

    def watch_runs(self, watcher: Callable[[str], None]) -> None:
        """`watcher(task_id)` for each task whose run became claimable or
        was asked to stop, on any process (the agent runner's claims)."""
        self._id_watchers[RUNS].append(watcher)

    def watch_jobs(self, watcher: Callable[[str], None]) -> None:
        """`watcher(job_id)` for each fine-tuning job that became claimable
        or was cancelled, on any process (the job runner's claims)."""
        self._id_watchers[JOBS].append(watcher)

    def serve_compute(
        self, publish_change: Callable[[ComputeTaskRecord], None], cancel_task: Callable[[str], Awaitable[None]]
    ) -> None:
        """From now on hands other processes' compute task changes to
        `publish_change` and every request to cancel a task to
        `cancel_task` (the compute service, built after start)."""
        self._publish_compute_change, self._cancel_compute_task = publish_change, cancel_task

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
        for channel in (SESSION_EVENTS, TASK_EVENTS, SESSION_CHANGES, JOB_EVENTS, COMPUTE_TASK_CHANGES, COMPUTE_CANCEL_REQUESTS):
            await connection.add_listener(channel, self._notified)
        for channel in self._id_watchers:
            await connection.add_listener(channel, self._id_changed)
        connection.add_termination_listener(self._lost)
        self._connection = connection

    def _notified(self, _connection, _pid: int, channel: str, payload: str) -> None:
        self._received.put_nowait((channel, json.loads(payload)))

    def _id_changed(self, _connection, _pid: int, channel: str, changed_id: str) -> None:
        for watcher in self._id_watchers[channel]:
            watcher(changed_id)

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
            self._missed_events()
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
                if CATCH_UP in batch:
                    await self._catch_up_cancels()
            except Exception as error:  # noqa: BLE001 - the relay outlives one failed read
                log.error("storage.notification_relay_failed", error=str(error))
                # Only a batch that named task or job events can have lost
                # one: a failed read of the feed alone (each quiet second
                # while the database is down) is read again by the next.
                if any(channel in (TASK_EVENTS, JOB_EVENTS) for channel, _ in batch):
                    self._missed_events()

    async def _publish(self, batch: list[tuple[str, dict]]) -> None:
        """In the order the notifications came (commit order). A batch's
        session events are read together, up to the last one before the
        next notification of another kind."""
        # Changes appended events made, by the feed sequence of the event
        # (a transaction's changes come right after its events' notification).
        made_by_event: dict[int, list[list]] = {}
        for channel, note in batch:
            if channel == SESSION_CHANGES and note["origin"] != self._origin:
                for change in note["changes"]:
                    if change[2] is not None:
                        made_by_event.setdefault(change[2], []).append(change)
        feed: list[int | None] = []
        for channel, note in batch:
            if channel == SESSION_EVENTS:
                feed.append(note["feed_sequence"])
                continue
            await self._publish_feed(feed, made_by_event)
            feed = []
            if note["origin"] == self._origin:
                continue
            if channel == SESSION_CHANGES:
                for change in note["changes"]:
                    # A change whose event went out in an earlier batch
                    # (the notifications were split) goes out late.
                    unsent = made_by_event.get(change[2], [])
                    if change[2] is None or change in unsent:
                        if change in unsent:
                            unsent.remove(change)
                        await self._publish_change(*change)
            elif channel == TASK_EVENTS:
                event = await self._task_store.task_event(note["task_id"], note["sequence"])
                if event is not None:
                    self._publish_task_event(event)
            elif channel == JOB_EVENTS:
                for event in await self._jobs.list_job_events(note["job_id"], note["sequence"] - 1):
                    if event.sequence == note["sequence"]:
                        self._publish_job_event(event)
            elif channel == COMPUTE_TASK_CHANGES:
                task = await self._compute_tasks.announced_task(note)
                if task is not None:
                    self._publish_compute_change(task)
            elif channel == COMPUTE_CANCEL_REQUESTS and self._cancel_compute_task is not None:
                await self._cancel_compute_task(note["task_id"])
        await self._publish_feed(feed, made_by_event)

    async def _catch_up_cancels(self) -> None:
        if self._cancel_compute_task is not None:
            for task_id in await self._compute_tasks.cancels_requested_here():
                await self._cancel_compute_task(task_id)

    async def _publish_feed(self, feed: list[int | None], made_by_event: dict[int, list[list]]) -> None:
        if not feed:
            return
        up_to = None if None in feed else max(feed)
        for event, owner in await self._sessions.feed_after(self._published_feed, up_to):
            for change in made_by_event.pop(event.feed_sequence, []):
                await self._publish_change(*change)
            self._publish_feed_event(FeedItem("event", event.session_id, event=event, owner_id=owner))
            self._published_feed = event.feed_sequence

    async def _publish_change(self, kind: str, session_id: str, _feed_sequence: int | None, owner_id: str | None) -> None:
        if kind == "session_deleted":
            self._publish_feed_event(FeedItem(kind, session_id, owner_id=owner_id))
            return
        session = await self._sessions.get_session(session_id)
        if session is not None:
            self._publish_feed_event(FeedItem(kind, session_id, session=session, owner_id=session.owner_id))
