"""The session domain on its SQLite store, called directly (the store's own
behaviour is the contract suite's: tests/contract/test_session_repository.py)."""

from __future__ import annotations

import asyncio

import pytest

from agent_runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from agent_runtime.events.bus import EventBus
from agent_runtime.sessions.models import NewEvent, SessionRecord
from agent_runtime.sessions.service import SessionService
from agent_runtime.storage.migrations import migration_files
from agent_runtime.storage.sqlite.database import MIGRATIONS_DIR, Database
from agent_runtime.storage.sqlite.sessions import SqliteSessionRepository


@pytest.fixture
async def service(tmp_path):
    database = await Database.open(tmp_path / "db.sqlite3")
    yield SessionService(SqliteSessionRepository(database), EventBus())
    await database.close()


def event(event_type: str = "pre_tool", **body) -> NewEvent:
    return NewEvent(event_type=event_type, timestamp="", body=body)


async def test_migrations_apply_once_and_record_versions(tmp_path):
    path = tmp_path / "db.sqlite3"
    database = await Database.open(path)
    await database.close()
    database = await Database.open(path)
    try:
        assert await database.migrate() == []
        rows = await database.fetch_all("SELECT version FROM schema_migrations ORDER BY version")
        assert [row[0] for row in rows] == [version for version, _, _ in migration_files(MIGRATIONS_DIR)]
        mode = await database.fetch_one("PRAGMA journal_mode")
        assert mode[0] == "wal"
    finally:
        await database.close()


async def test_concurrent_appends_get_unique_gapless_sequences(service):
    await service.create_session("s1", "s1")
    appended = await asyncio.gather(*(service.append_event("s1", event(i=i)) for i in range(60)))
    assert sorted(e.sequence for e in appended) == list(range(1, 61))
    stored = await service.list_events("s1")
    assert [e.sequence for e in stored] == list(range(1, 61))
    feed = [e.feed_sequence for e in stored]
    assert feed == sorted(feed) and len(set(feed)) == 60


async def test_published_events_are_already_committed(service):
    await service.create_session("s1", "s1")
    watcher = service.watch()
    assert (await anext(watcher)).kind == "init"
    next_item = asyncio.create_task(anext(watcher))
    await asyncio.sleep(0)
    await service.append_event("s1", event(n=1))
    item = await asyncio.wait_for(next_item, 5)
    assert item.event is not None and item.event.sequence == 1
    # What the feed announced is readable by anyone.
    assert [e.event_id for e in await service.list_events("s1")] == [item.event.event_id]
    await watcher.aclose()


async def test_slow_watcher_resynchronises_without_losing_events(tmp_path):
    database = await Database.open(tmp_path / "db.sqlite3")
    service = SessionService(SqliteSessionRepository(database), EventBus(subscriber_capacity=4))
    try:
        await service.create_session("s1", "s1")
        watcher = service.watch(session_id="s1")
        assert (await anext(watcher)).kind == "init"
        pending = asyncio.create_task(anext(watcher))
        await asyncio.sleep(0)
        for i in range(20):
            await service.append_event("s1", event(i=i))
        received = [await pending]
        while len([r for r in received if r.event]) < 20:
            received.append(await asyncio.wait_for(anext(watcher), 5))
        sequences = [r.event.sequence for r in received if r.event]
        assert sequences == list(range(1, 21))
        await watcher.aclose()
    finally:
        await database.close()


async def test_domain_rules(service):
    await service.create_session("s1", "s1")
    with pytest.raises(AlreadyExists):
        await service.create_session("s1", "again")
    with pytest.raises(NotFound):
        await service.append_event("missing", event())
    with pytest.raises(InvalidArgument):
        await service.update_metadata("s1", {})
    with pytest.raises(InvalidArgument):
        await service.append_event("s1", event("message"))
    with pytest.raises(InvalidArgument):
        await service.list_events("s1", after_sequence=-1)
    assert await service.session_status("missing") == "not_existent"


async def test_owner_scope_hides_other_users_sessions_and_events(service):
    await service.create_session("mine", owner="alice")
    await service.create_session("theirs", owner="bob")
    await service.append_event("mine", event())
    await service.append_event("theirs", event())
    assert [s.session_id for s in await service.list_sessions(scope="alice")] == ["mine"]
    assert {s.session_id for s in await service.list_sessions()} == {"mine", "theirs"}
    with pytest.raises(NotFound):
        await service.get_session("theirs", scope="alice")
    with pytest.raises(NotFound):
        await service.append_event("theirs", event(), scope="alice")
    with pytest.raises(NotFound):
        await service.append_event("theirs", event("session_start"), create_on_start=True, scope="alice", owner="alice")
    with pytest.raises(NotFound):
        await service.delete_session("theirs", scope="alice")
    assert await service.session_status("theirs", scope="alice") == "not_existent"
    assert (await service.get_session("theirs")).event_count == 1
    feed = service.watch(after_feed_sequence=0, scope="alice")
    init = await anext(feed)
    assert [s.session_id for s in init.sessions] == ["mine"]
    # A cursor of 0 replays from the start: only alice's stored event.
    replayed = await anext(feed)
    assert replayed.session_id == "mine" and replayed.event.event_type == "pre_tool"
    await service.append_event("theirs", event())
    await service.append_event("mine", event("post_tool"))
    live = await anext(feed)
    assert live.session_id == "mine" and live.event.event_type == "post_tool"
    await feed.aclose()


def test_a_session_counts_its_events_and_stop_and_start_change_its_status():
    session = SessionRecord("s1", "s1", "running", "t0", "t0")
    assert session.record_event("pre_tool", "t1") == 1
    assert (session.status, session.event_count, session.updated_at) == ("running", 1, "t1")
    assert session.record_event("session_start", "t2") == 2
    assert session.status == "running" and session.last_resumed_at is None
    session.record_event("session_stop", "t3")
    assert session.status == "finished"
    session.record_event("session_stop", "t4")
    assert session.status == "finished" and session.last_resumed_at is None
    assert session.record_event("session_start", "t5") == 5
    assert (session.status, session.last_resumed_at, session.event_count, session.last_sequence) == ("running", "t5", 5, 5)


async def test_only_name_directory_and_agent_can_be_changed(service):
    await service.create_session("s1", "s1")
    with pytest.raises(InvalidArgument, match="only session_name, project_dir, agent_name can be changed, not status"):
        await service.update_metadata("s1", {"status": "finished"})
    assert (await service.get_session("s1")).status == "running"


async def test_the_result_is_the_latest_assistant_message_once_finished(service):
    def message(role: str, text: str, timestamp: str) -> NewEvent:
        return NewEvent("message", timestamp, body={"role": role, "content": [{"type": "text", "text": text}]})

    await service.create_session("s1", "s1")
    await service.append_event("s1", message("assistant", "the answer", "2026-01-01T00:00:02.000Z"))
    await service.append_event("s1", message("assistant", "posted later, stamped earlier", "2026-01-01T00:00:01.000Z"))
    await service.append_event("s1", message("user", "thanks", "2026-01-01T00:00:03.000Z"))
    with pytest.raises(FailedPrecondition):
        await service.session_result("s1")
    await service.append_event("s1", event("session_stop"))
    assert await service.session_result("s1") == "the answer"
