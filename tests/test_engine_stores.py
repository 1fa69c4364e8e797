"""Every store held to one behaviour on SQLite and on PostgreSQL (the
engine fixture): sessions, users and keys, compute tasks, agent tasks and
their events, approvals, client calls, artifacts, idempotency keys, agent
switches, ML files and jobs. On PostgreSQL, writers of one task, job or
session take turns on its row, as SQLite's single writer does, so
concurrent writers (two processes) never take the same sequence."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pathlib
from typing import AsyncIterator

import pytest
import pytest_asyncio

from agent_runtime.agents.models import (
    ApprovalRecord,
    ArtifactRecord,
    ClientCallRecord,
    TaskRecord,
)
from agent_runtime.config import Settings
from agent_runtime.errors import AlreadyExists
from agent_runtime.identity.models import ApiKeyRecord, UserRecord
from agent_runtime.ml.models import FileRecord, JobEvent, JobRecord
from agent_runtime.sessions.models import NewEvent, PendingAppend, SessionRecord
from agent_runtime.storage.engines import Storage, open_storage
from agent_runtime.storage.sqlite.compute import TaskRecord as ComputeTask
from agent_runtime.storage.sqlite.multiagent import AgentSwitchRecord, SwitchLimitReached
from postgres_helpers import create_database

NOW = "2026-01-01T00:00:00Z"


@contextlib.asynccontextmanager
async def _opened(data_dir: pathlib.Path, database_url: str | None) -> AsyncIterator[list[Storage]]:
    """Two storages on one database: two processes, on PostgreSQL (on
    SQLite, two writers of one file)."""
    settings = dataclasses.replace(Settings(), data_dir=data_dir, database_url=database_url)
    first = await open_storage(settings)
    second = await open_storage(settings)
    try:
        yield [first, second]
    finally:
        await first.database.close()
        await second.database.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request) -> str:
    return request.param


@pytest_asyncio.fixture
async def storages(engine, request, tmp_path) -> AsyncIterator[list[Storage]]:
    url = await create_database(request.getfixturevalue("postgres").dsn) if engine == "postgresql" else None
    async with _opened(tmp_path, url) as opened:
        await opened[0].sessions.append_events(
            [PendingAppend("s", NewEvent("note", NOW), SessionRecord("s", "s", "running", NOW, NOW), None)], NOW
        )
        yield opened


async def _task(storage: Storage, task_id: str = "t") -> TaskRecord:
    task = TaskRecord(task_id, "s", "alice", "describe", "/tmp", "running", 10, NOW, NOW)
    await storage.agents.create_task(task, [{"role": "user", "content": "hi"}])
    return task


async def test_concurrent_writers_of_one_task_get_contiguous_event_sequences(storages):
    await _task(storages[0])
    appended = await asyncio.gather(
        *(storages[n % 2].agents.append_event("t", "progress", {"n": n}, NOW) for n in range(30))
    )
    events = await storages[1].agents.list_events("t", 0, 0)
    assert sorted(event.sequence for event in appended) == list(range(1, 31))
    assert [event.sequence for event in events] == list(range(1, 31))
    assert (await storages[0].agents.get_task("t")).last_event_sequence == 30
    assert await storages[0].agents.append_event("missing", "progress", {}, NOW) is None


async def test_tasks_messages_inputs_and_started_calls(storages):
    agents = storages[0].agents
    await _task(storages[0])
    assert await agents.update_task("t", {"status": "completed", "result_success": True}, only_if_status=("running",))
    assert not await agents.update_task("t", {"status": "failed"}, only_if_status=("running",))
    task = await agents.get_task("t")
    assert (task.status, task.result_success, task.stop_requested) == ("completed", True, False)
    await agents.append_messages("t", [{"role": "assistant", "content": "ok"}])
    assert [m["content"] for m in await agents.list_messages("t")] == ["hi", "ok"]
    await agents.add_input("t", "one", NOW)
    await agents.add_input("t", "two", NOW)
    assert await agents.take_inputs("t") == ["one", "two"]
    assert await agents.take_inputs("t") == []
    await agents.append_event("t", "tool_call", {"call_id": "c1"}, NOW)
    await agents.append_event("t", "tool_result", {"call_id": "c1"}, NOW)
    assert await agents.started_calls("t") == {"c1"}
    assert await agents.task_counts() == {"s": 1}


async def test_approvals_and_client_calls_pause_the_task_once(storages):
    agents = storages[0].agents
    await _task(storages[0])
    approval = ApprovalRecord("a1", "t", "alice", "c1", "write_file", {"path": "x"}, "writes", "pending", NOW)
    stored, paused = await agents.create_approval(approval, NOW)
    assert paused and (await agents.get_task("t")).status == "waiting_approval"
    again, paused = await agents.create_approval(dataclasses.replace(approval, approval_id="a2"), NOW)
    assert again.approval_id == "a1" and not paused
    decided = await agents.resolve_approval("a1", {"status": "edited", "modified_arguments": {"path": "y"}})
    assert decided.modified_arguments == {"path": "y"}
    assert await agents.resolve_approval("a1", {"status": "rejected"}) is None
    assert [a.approval_id for a in await agents.session_approvals("s", status="edited")] == ["a1"]
    await agents.update_task("t", {"status": "running"})
    call = ClientCallRecord("t", "ide-1", "run_tests", {}, "pending", NOW)
    _, created, paused = await agents.create_client_call(call, NOW)
    assert created and paused
    assert await agents.answer_client_call("t", "ide-1", "12 passed", False, NOW)
    assert not await agents.answer_client_call("t", "ide-1", "again", True, NOW)
    [answered] = await agents.session_client_calls("s")
    assert (answered.status, answered.result, answered.is_error) == ("answered", "12 passed", False)


async def test_artifacts_and_idempotency_keys_are_replaced_by_name_and_key(storages):
    agents = storages[0].agents
    await _task(storages[0])
    for content in (b"first", b"second\x00bytes"):
        await agents.put_artifact(ArtifactRecord(f"id-{len(content)}", "t", "diff", "patch", "text/x-diff", len(content), NOW, content))
    [listed] = await agents.list_artifacts("t")
    assert (await agents.get_artifact("t", "diff")).content == b"second\x00bytes" and listed.content == b""
    await agents.put_idempotent("alice", "CreateTask", "k", "h1", b"\x01answer", NOW)
    await agents.put_idempotent("alice", "CreateTask", "k", "h2", b"\x02answer", NOW)
    assert await agents.get_idempotent("alice", "CreateTask", "k", NOW) == ("h2", b"\x02answer")
    assert await agents.purge_idempotent("2027-01-01T00:00:00Z") == 1
    assert await agents.get_idempotent("alice", "CreateTask", "k", NOW) is None


async def test_concurrent_agent_switches_never_pass_the_limit(storages):
    switches = await asyncio.gather(
        *(
            storages[n % 2].agent_switches.switch("s", "coder", AgentSwitchRecord("", f"agent-{n}", "why", NOW), 3)
            for n in range(6)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(result, SwitchLimitReached) for result in switches) == 3
    record = await storages[0].agent_switches.get("s")
    assert record.switch_count == 3 and len(record.history) == 3


async def test_ml_files_newest_first_and_job_events_contiguous(storages):
    ml = storages[0].ml
    for name in ("a", "b", "c"):
        await ml.add_file(FileRecord(f"file-{name}", f"{name}.jsonl", "fine-tune", 10, 1, "chat", "/tmp/x", 1_700_000_000))
    assert [f.id for f in await ml.list_files()] == ["file-c", "file-b", "file-a"]
    assert (await ml.get_file("file-b")).filename == "b.jsonl"
    job = JobRecord("job", "model", "queued", NOW, NOW, None, "file-a", None, "", {}, {}, None, None, last_sequence=1)
    await ml.add_job(job, JobEvent("job", 1, "created", NOW, "created", "queued"))
    # add_job wrote event 1; each update appends the next.
    await asyncio.gather(
        *(
            storages[n % 2].ml.update_job("job", NOW, {}, JobEvent("job", 0, "progress", NOW, f"step {n}", "running"))
            for n in range(10)
        )
    )
    assert [event.sequence for event in await ml.list_job_events("job", 0)] == list(range(1, 12))


async def test_sessions_listed_updated_scoped_and_deleted(storages):
    sessions = storages[0].sessions
    await sessions.create_session(SessionRecord("mine", "Mine", "running", "2026-01-02T00:00:00Z", NOW, owner_id="alice"))
    with pytest.raises(AlreadyExists):
        await storages[1].sessions.create_session(SessionRecord("mine", "Again", "running", NOW, NOW))
    assert [s.session_id for s in await sessions.list_sessions(0, 0)] == ["mine", "s"]
    assert [s.session_id for s in await sessions.list_sessions(1, 1)] == ["s"]
    assert [s.session_id for s in await sessions.list_sessions(0, 0, owner="alice")] == ["mine"]
    assert (await sessions.update_session("mine", {"session_name": "Renamed"}, NOW)).session_name == "Renamed"
    await sessions.append_events(
        [PendingAppend("mine", NewEvent("message", NOW, body={"text": t, "role": "assistant"}), None, None) for t in ("a", "b")], NOW
    )
    assert (await sessions.last_assistant_message("mine")).body["text"] == "b"
    assert [e.session_id for e in await sessions.list_feed(0, 0, owner="alice")] == ["mine", "mine"]
    assert await sessions.delete_session("mine") == 2
    assert await sessions.get_session("mine") is None


async def test_users_keys_and_compute_tasks(storages):
    identity, compute = storages[0].identity, storages[0].compute
    await identity.create_user(UserRecord("u1", "a@example.com", "A", "a", "hash", NOW))
    with pytest.raises(AlreadyExists):
        await identity.create_user(UserRecord("u2", "a@example.com", "B", "b", "hash", NOW))
    await identity.create_api_key(ApiKeyRecord("k1", "u1", "laptop", "sha", "md_ab", NOW))
    assert (await identity.find_api_key_by_hash("sha")).key_id == "k1"
    assert (await identity.revoke_api_key("k1", NOW)).revoked_at == NOW
    assert [k.key_id for k in await identity.list_api_keys("u1")] == ["k1"]
    for n in range(3):
        await compute.insert_task(ComputeTask(f"c{n}", "matrix_multiply", "queued", 5, "auto", {"size": n}, NOW, NOW, owner_id="u1"))
    tasks, total = await compute.list_tasks(2, 0, scope="u1")
    assert ([t.task_id for t in tasks], total) == (["c2", "c1"], 3)
    assert await compute.fail_unfinished("restarted", NOW, 1.0) == 3
    assert [t.task_id for t in await compute.tasks_finished_between(0.0, 2.0)] == ["c0", "c1", "c2"]
