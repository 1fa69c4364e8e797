"""The inbox (agents/inbox.py) on a real SQLite store, no server: what paused
runs wait on, only the caller's, oldest first; decided approvals and
answered client calls leave it."""

from __future__ import annotations

import pytest_asyncio

from agent_runtime.agents.inbox import APPROVAL, CLIENT_TOOL, PLAN, Inbox
from agent_runtime.agents.models import ANSWER, PAUSE, ApprovalRecord, ClientCallRecord, TaskRecord
from agent_runtime.sessions.models import SessionRecord
from agent_runtime.storage.sqlite.agents import sqlite_agent_store
from agent_runtime.storage.sqlite.database import Database
from agent_runtime.storage.sqlite.sessions import SqliteSessionRepository

NOW = "2026-12-03T10:00:00.000Z"


@pytest_asyncio.fixture
async def database(tmp_path):
    opened = await Database.open(tmp_path / "inbox.sqlite3")
    yield opened
    await opened.close()


async def paused_task(database, store, task_id: str, owner: str) -> None:
    session_id = f"session-{task_id}"
    await SqliteSessionRepository(database).create_session(SessionRecord(session_id, "s", "running", NOW, NOW))
    await store.tasks.create_task(TaskRecord(task_id, session_id, owner, "do it", "/tmp", "running", 5, NOW, NOW), [])


def pending(task_id: str, owner: str, call_id: str, tool: str, at: str) -> ApprovalRecord:
    return ApprovalRecord(f"a-{call_id}", task_id, owner, call_id, tool, {"path": call_id}, "needs approval", "pending", at)


async def test_the_inbox_holds_what_the_callers_paused_runs_wait_on_oldest_first(database):
    store = sqlite_agent_store(database)
    await paused_task(database, store, "write", "alice")
    await paused_task(database, store, "plan", "alice")
    await paused_task(database, store, "client", "alice")
    await paused_task(database, store, "bobs", "bob")
    await store.approvals.create_approval(pending("write", "alice", "w1", "write_file", "2026-12-03T10:00:03.000Z"), PAUSE, NOW)
    await store.approvals.create_approval(pending("plan", "alice", "p1", "update_plan", "2026-12-03T10:00:01.000Z"), PAUSE, NOW)
    await store.client_calls.create_client_call(
        ClientCallRecord("client", "c1", "run_tests", {"target": "all"}, "pending", "2026-12-03T10:00:02.000Z"), PAUSE, NOW
    )
    await store.approvals.create_approval(pending("bobs", "bob", "b1", "delete_file", NOW), PAUSE, NOW)
    inbox = Inbox(store)

    alices = await inbox.items(scope="alice")
    assert [(item.call_id, item.kind) for item in alices] == [("p1", PLAN), ("c1", CLIENT_TOOL), ("w1", APPROVAL)]
    assert (alices[1].session_id, alices[1].task_id, alices[1].arguments, alices[1].reason) == ("session-client", "client", {"target": "all"}, "")
    assert [item.call_id for item in await inbox.items(scope="bob")] == ["b1"]
    # An administrator sees every user's.
    assert {item.call_id for item in await inbox.items(scope=None)} == {"p1", "c1", "w1", "b1"}

    decided = await store.approvals.get_approval("a-w1")
    await store.approvals.resolve_approval(decided.approval_id, {"status": "approved", "decision": "approve"}, only_if_status="pending")
    await store.client_calls.answer_client_call("client", "c1", "ok", False, NOW, transition=ANSWER)
    assert [item.call_id for item in await inbox.items(scope="alice")] == ["p1"]


async def test_an_approval_of_a_run_no_longer_paused_is_not_in_the_inbox(database):
    store = sqlite_agent_store(database)
    await paused_task(database, store, "t1", "alice")
    await store.approvals.create_approval(pending("t1", "alice", "w1", "write_file", NOW), PAUSE, NOW)
    # Stopped while waiting: the approval stays stored but nothing waits on it.
    await store.tasks.update_task("t1", {"status": "stopped"})
    assert await Inbox(store).items(scope="alice") == []
