"""Events on PostgreSQL: committed in feed order whatever the writers do, so
a reader tailing by sequence never skips one; and every process's watchers
wake for events any process wrote (LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio

import pytest

from agent_runtime.agents.models import TaskRecord
from agent_runtime.events.bus import EventBus
from agent_runtime.sessions.models import NewEvent, PendingAppend, SessionRecord
from agent_runtime.sessions.service import SessionService
from agent_runtime.server import event_buses
from agent_runtime.storage.engines import Storage, open_storage

NOW = "2026-01-01T00:00:00Z"


class Process:
    """A storage as one server process holds it, with its live buses
    (server.event_buses)."""

    def __init__(self, storage: Storage, buses: tuple[EventBus, EventBus, EventBus]):
        self.storage = storage
        self.feed_bus, self.task_bus, self.job_bus = buses

    def __getattr__(self, name: str):
        return getattr(self.storage, name)


async def _storage(dsn: str, tmp_path) -> Process:
    storage = await open_storage(tmp_path / "unused.sqlite3", dsn)
    return Process(storage, await event_buses(storage))


async def test_each_engine_gets_its_own_adapter_for_every_port(postgres_dsn, tmp_path):
    ports = ("sessions", "identity", "compute_tasks", "compute_samples", "compute_probes", "ml_models", "ml_files", "ml_jobs")
    postgres = await _storage(postgres_dsn, tmp_path)
    sqlite = await open_storage(tmp_path / "db.sqlite3")
    try:
        assert (postgres.engine, sqlite.engine) == ("postgresql", "sqlite")
        assert all(type(getattr(postgres, port)).__name__.startswith("Postgres") for port in ports)
        assert all(type(getattr(sqlite, port)).__name__.startswith("Sqlite") for port in ports)
        assert type(postgres.agents.tasks).__name__ == "PostgresTaskRepository"
        assert type(sqlite.agents.tasks).__name__ == "SqliteTaskRepository"
    finally:
        await postgres.database.close()
        await sqlite.database.close()


def _append(session_id: str, n: int) -> PendingAppend:
    return PendingAppend(
        session_id,
        NewEvent(event_type="note", timestamp=NOW, body={"n": n}),
        SessionRecord(session_id, session_id, "running", NOW, NOW),
        None,
    )


async def test_a_writer_that_took_a_lower_sequence_commits_before_a_later_one(postgres_dsn, tmp_path):
    first, second = await _storage(postgres_dsn, tmp_path), await _storage(postgres_dsn, tmp_path)
    try:
        # The first writer appends and holds its transaction open; the
        # second (another process) appends meanwhile.
        async with first.database.transaction():
            [held] = await first.sessions.append_events([_append("s", 1)], NOW)
            later = asyncio.create_task(second.sessions.append_events([_append("s", 2)], NOW))
            await asyncio.sleep(0.3)
            assert not later.done(), "the second writer waits for the first's commit"
            assert await second.sessions.list_feed(0, 0) == []
        [committed_later] = await later
        feed = await second.sessions.list_feed(0, 0)
    finally:
        await first.database.close()
        await second.database.close()
    assert [event.feed_sequence for event in feed] == [held.event.feed_sequence, committed_later.event.feed_sequence]
    assert held.event.feed_sequence < committed_later.event.feed_sequence
    assert [event.sequence for event in feed] == [1, 2]


async def test_a_tailing_reader_sees_every_event_of_concurrent_writers(postgres_dsn, tmp_path):
    writers = [await _storage(postgres_dsn, tmp_path) for _ in range(3)]
    reader = writers[0]
    done = asyncio.Event()
    seen: list[int] = []

    async def tail() -> None:
        last = 0
        while True:
            finished = done.is_set()
            for event in await reader.sessions.list_feed(last, 0):
                seen.append(event.feed_sequence)
                last = event.feed_sequence
            if finished:
                return

    async def write(storage: Process, writer: int) -> None:
        for n in range(40):
            session = f"session-{(writer + n) % 4}"
            await storage.sessions.append_events([_append(session, n), _append(f"own-{writer}", n)], NOW)

    try:
        tailing = asyncio.create_task(tail())
        await asyncio.gather(*(write(storage, index) for index, storage in enumerate(writers) for _ in range(2)))
        done.set()
        await tailing
        stored = await reader.sessions.list_feed(0, 0)
        per_session = {}
        for event in stored:
            per_session.setdefault(event.session_id, []).append(event.sequence)
    finally:
        for storage in writers:
            await storage.database.close()
    assert len(stored) == 3 * 2 * 40 * 2
    assert seen == [event.feed_sequence for event in stored]
    for sequences in per_session.values():
        assert sequences == list(range(1, len(sequences) + 1))


async def test_a_watcher_on_one_process_sees_events_written_by_another(postgres_dsn, tmp_path):
    writer, watcher = await _storage(postgres_dsn, tmp_path), await _storage(postgres_dsn, tmp_path)
    try:
        writing = SessionService(writer.sessions, writer.feed_bus)
        watching = SessionService(watcher.sessions, watcher.feed_bus)
        await writing.create_session("shared", "Shared")
        local_watch = writing.watch("shared", after_sequence=None)
        remote_watch = watching.watch("shared", after_sequence=None)
        assert (await anext(local_watch)).kind == "init"
        assert (await anext(remote_watch)).kind == "init"
        for n in range(3):
            await writing.append_event("shared", NewEvent(event_type="note", timestamp="", body={"n": n}))
        remote = [await asyncio.wait_for(anext(remote_watch), 10) for _ in range(3)]
        local = [await asyncio.wait_for(anext(local_watch), 10) for _ in range(3)]
        await remote_watch.aclose()
        await local_watch.aclose()
    finally:
        await writer.database.close()
        await watcher.database.close()
    assert [item.event.body["n"] for item in remote] == [0, 1, 2]
    # The writer's own watchers get each event once, also through the
    # notification.
    assert [item.event.sequence for item in local] == [1, 2, 3]


async def test_task_events_written_on_one_process_reach_another_process_bus(postgres_dsn, tmp_path):
    writer, watcher = await _storage(postgres_dsn, tmp_path), await _storage(postgres_dsn, tmp_path)
    try:
        await writer.sessions.append_events([_append("s", 0)], NOW)
        task = TaskRecord("t1", "s", "owner", "describe", "/tmp", "running", 10, NOW, NOW)
        await writer.agents.tasks.create_task(task, [])
        subscription = watcher.task_bus.subscribe(lambda event: event.task_id == "t1")
        own = writer.task_bus.subscribe(lambda event: event.task_id == "t1")
        await writer.agents.tasks.append_event("t1", "progress", {"step": 1}, NOW)
        event = await asyncio.wait_for(subscription.get(), 10)
        # The writing process publishes its own run's events itself, so
        # none come back to it.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(own.get(), 0.5)
    finally:
        await writer.database.close()
        await watcher.database.close()
    assert (event.task_id, event.sequence, event.type, event.body) == ("t1", 1, "progress", {"step": 1})


async def test_after_losing_its_connection_the_relay_listens_again_and_catches_up(postgres_dsn, tmp_path):
    writer, watcher = await _storage(postgres_dsn, tmp_path), await _storage(postgres_dsn, tmp_path)
    try:
        subscription = watcher.feed_bus.subscribe()
        listener = f"agent-runtime:{watcher.database.origin}:listener"
        terminated = await writer.database.fetch_one(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ?", (listener,)
        )
        assert terminated[0] == 1
        # Written while nobody on the watcher's process listens.
        await writer.sessions.append_events([_append("s", n) for n in range(3)], NOW)
        items = [await asyncio.wait_for(subscription.get(), 15) for _ in range(3)]
        await writer.sessions.append_events([_append("s", 3)], NOW)
        items.append(await asyncio.wait_for(subscription.get(), 15))
    finally:
        await writer.database.close()
        await watcher.database.close()
    assert [item.event.body["n"] for item in items] == [0, 1, 2, 3]


async def test_after_losing_its_connection_the_relay_has_task_and_job_watchers_reread(postgres_dsn, tmp_path):
    """A task's (or job's) event written while nobody listened is never
    notified: it may have been the last, after which no later event shows a
    gap. The watchers hear they may have missed events, and reread them."""
    writer, watcher = await _storage(postgres_dsn, tmp_path), await _storage(postgres_dsn, tmp_path)
    try:
        await writer.sessions.append_events([_append("s", 0)], NOW)
        await writer.agents.tasks.create_task(TaskRecord("t1", "s", "owner", "describe", "/tmp", "running", 10, NOW, NOW), [])
        tasks = watcher.task_bus.subscribe(lambda event: event.task_id == "t1")
        jobs = watcher.job_bus.subscribe()
        listener = f"agent-runtime:{watcher.database.origin}:listener"
        await writer.database.fetch_one("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ?", (listener,))
        await writer.agents.tasks.append_event("t1", "status", {"status": "completed"}, NOW)
        missed = [await asyncio.wait_for(tasks.get(), 15), await asyncio.wait_for(jobs.get(), 15)]
    finally:
        await writer.database.close()
        await watcher.database.close()
    assert missed == [None, None] and tasks.overflowed and jobs.overflowed


async def test_an_event_whose_notification_never_came_still_reaches_watchers(postgres_dsn, tmp_path):
    watcher = await _storage(postgres_dsn, tmp_path)
    try:
        subscription = watcher.feed_bus.subscribe()
        # Committed the way the adapter does, less the notification.
        async with watcher.database.transaction() as tx:
            await tx.execute("UPDATE event_feed_counter SET last_feed_sequence = 1")
            await tx.execute(
                "INSERT INTO sessions (session_id, session_name, status, created_at, updated_at, event_count, last_sequence)"
                " VALUES ('quiet', 'quiet', 'running', ?, ?, 1, 1)",
                (NOW, NOW),
            )
            await tx.execute(
                "INSERT INTO events (feed_sequence, event_id, session_id, sequence, event_type, timestamp, body)"
                " VALUES (1, 'e1', 'quiet', 1, 'note', ?, '{}')",
                (NOW,),
            )
        item = await asyncio.wait_for(subscription.get(), 10)
    finally:
        await watcher.database.close()
    assert (item.event.session_id, item.event.feed_sequence) == ("quiet", 1)


async def _next(subscription, kinds: int = 1) -> list:
    return [await asyncio.wait_for(subscription.get(), 10) for _ in range(kinds)]


async def test_session_changes_reach_the_session_list_of_another_process(postgres_dsn, tmp_path):
    writer, watcher = await _storage(postgres_dsn, tmp_path), await _storage(postgres_dsn, tmp_path)
    try:
        writing = SessionService(writer.sessions, writer.feed_bus)
        feed = watcher.feed_bus.subscribe()
        await writing.create_session("listed", "Listed", owner="u1")
        [created] = await _next(feed)
        await writing.update_metadata("listed", {"session_name": "Renamed"})
        [updated] = await _next(feed)
        await writing.delete_session("listed")
        [deleted] = await _next(feed)
        # A session an event creates: its creation, then the event, as the
        # writing process tells its own watchers.
        await writing.append_event("by-event", NewEvent(event_type="session_start", timestamp=""), create_on_start=True, owner="u2")
        by_event = await _next(feed, 2)
    finally:
        await writer.database.close()
        await watcher.database.close()
    assert (created.kind, created.session_id, created.owner_id, created.session.session_name) == ("session_created", "listed", "u1", "Listed")
    assert (updated.kind, updated.session.session_name, updated.owner_id) == ("session_updated", "Renamed", "u1")
    assert (deleted.kind, deleted.session_id, deleted.owner_id) == ("session_deleted", "listed", "u1")
    assert [(item.kind, item.session_id, item.owner_id) for item in by_event] == [
        ("session_created", "by-event", "u2"),
        ("event", "by-event", "u2"),
    ]


async def test_a_writer_hears_its_own_session_changes_once(postgres_dsn, tmp_path):
    writer = await _storage(postgres_dsn, tmp_path)
    try:
        writing = SessionService(writer.sessions, writer.feed_bus)
        feed = writer.feed_bus.subscribe()
        await writing.create_session("mine")
        await writing.append_event("mine", NewEvent(event_type="note", timestamp=""))
        items = await _next(feed, 2)
        # Its relay leaves out the creation its service published already.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(feed.get(), 1.5)
    finally:
        await writer.database.close()
    assert [item.kind for item in items] == ["session_created", "event"]


async def test_fine_tuning_job_events_reach_watchers_of_another_process(postgres_dsn, tmp_path):
    from agent_runtime.ml.models import JobEvent, JobRecord

    writer, watcher = await _storage(postgres_dsn, tmp_path), await _storage(postgres_dsn, tmp_path)
    job = JobRecord(
        id="job-1", model_id="base", status="created", created_at=NOW, updated_at=NOW, fine_tuned_model=None,
        training_file="train", validation_file=None, suffix="s", compute_config={}, hyperparameters={},
        metrics=None, error=None, last_sequence=1, owner_id=None,
    )
    try:
        await writer.ml_jobs.add_job(job, JobEvent("job-1", 1, "status", NOW, "created", "created"))
        events = watcher.job_bus.subscribe()
        await writer.ml_jobs.update_job(
            "job-1", NOW, {"status": "queued"}, JobEvent("job-1", 0, "status", NOW, "queued", "queued")
        )
        [event] = await _next(events)
    finally:
        await writer.database.close()
        await watcher.database.close()
    assert (event.job_id, event.sequence, event.status) == ("job-1", 2, "queued")
