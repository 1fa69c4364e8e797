"""Contract of the agent domain's ports (agents/ports.py): every storage
adapter of the AgentStore passes these, on every engine of conftest.py's
ENGINES."""

from __future__ import annotations

import dataclasses
from typing import Awaitable, Callable

import pytest

from agent_runtime.agents.models import (
    ANSWER,
    PAUSE,
    AgentSwitchRecord,
    ApprovalRecord,
    ArtifactRecord,
    ClientCallRecord,
    ClientTool,
    HitlSettings,
    SwitchLimitReached,
    TaskRecord,
)
from agent_runtime.agents.ports import AgentStore
from agent_runtime.sessions.models import SessionRecord

NOW = "2026-12-02T10:00:00.000Z"


@dataclasses.dataclass
class Opened:
    store: AgentStore
    # Tasks belong to a session, which the sessions port stores.
    add_session: Callable[[str], Awaitable[None]]


@pytest.fixture
def opened(stores) -> Opened:
    async def add_session(session_id: str) -> None:
        if await stores.sessions.get_session(session_id) is None:
            await stores.sessions.create_session(SessionRecord(session_id, "s", "running", NOW, NOW))

    return Opened(stores.agents, add_session)


async def a_task(opened: Opened, task_id: str, status: str = "running", session_id: str = "s1", messages=()) -> TaskRecord:
    await opened.add_session(session_id)
    task = TaskRecord(task_id, session_id, "alice", "do it", "/tmp", status, 5, NOW, NOW, tools=["read_file"], context={"k": "v"})
    await opened.store.tasks.create_task(task, list(messages))
    return task


def approval(task_id: str, call_id: str = "call-1", approval_id: str | None = None) -> ApprovalRecord:
    return ApprovalRecord(approval_id or f"a-{task_id}-{call_id}", task_id, "alice", call_id, "write_file", {"path": "a"}, "dangerous", "pending", NOW)


async def test_a_task_reads_back_and_updates_only_from_the_statuses_given(opened):
    tasks = opened.store.tasks
    created = await a_task(opened, "t1", status="accepted")
    assert await tasks.get_task("t1") == created and await tasks.get_task("missing") is None
    assert not await tasks.update_task("t1", {"status": "running"}, only_if_status=("queued",))
    assert await tasks.update_task("t1", {"status": "running", "plan": [{"id": "1"}], "result_success": True}, only_if_status=("accepted",))
    stored = await tasks.get_task("t1")
    assert (stored.status, stored.plan, stored.result_success) == ("running", [{"id": "1"}], True)
    await a_task(opened, "t2", status="completed")
    assert [t.task_id for t in await tasks.list_tasks("s1")] == ["t1", "t2"]
    assert await tasks.task_counts() == {"s1": 2}
    assert [t.task_id for t in await tasks.tasks_with_status(("running", "queued"))] == ["t1"]


async def test_messages_and_events_keep_their_order_and_events_their_sequence(opened):
    tasks = opened.store.tasks
    await a_task(opened, "t1", messages=[{"role": "system", "content": "s"}])
    await tasks.append_messages("t1", [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}])
    assert [m["role"] for m in await tasks.list_messages("t1")] == ["system", "user", "assistant"]
    first = await tasks.append_event("t1", "tool_call", {"type": "tool_call", "call_id": "c1"}, NOW)
    second = await tasks.append_event("t1", "status", {"type": "status", "status": "running"}, NOW)
    assert (first.sequence, second.sequence) == (1, 2)
    assert (await tasks.get_task("t1")).last_event_sequence == 2
    assert [e.sequence for e in await tasks.list_events("t1", 1, 10)] == [2]
    assert [e.body for e in await tasks.list_events("t1", 0, 1)] == [{"type": "tool_call", "call_id": "c1"}]
    assert await tasks.started_calls("t1") == {"c1"}
    # A task deleted under its run takes no more events.
    assert await tasks.append_event("missing", "status", {}, NOW) is None


async def test_input_is_taken_once_in_order(opened):
    tasks = opened.store.tasks
    await a_task(opened, "t1")
    await tasks.add_input("t1", "first", NOW)
    await tasks.add_input("t1", "second", NOW)
    assert await tasks.take_inputs("t1") == ["first", "second"]
    assert await tasks.take_inputs("t1") == []


async def test_a_pending_call_is_stored_with_its_paused_task(opened):
    """A kill -9 can land between any two writes, so a pending approval (or
    client tool call) and its task's `waiting_approval` status are one
    write; found again (a resumed run), the task is already paused."""
    store = opened.store
    creates = (
        lambda task_id: store.approvals.create_approval(approval(task_id), PAUSE, NOW),
        lambda task_id: store.client_calls.create_client_call(ClientCallRecord(task_id, "call-1", "read_editor", {}, "pending", NOW), PAUSE, NOW),
    )
    for number, create in enumerate(creates):
        task_id = f"paused-{number}"
        await a_task(opened, task_id)
        *_, paused = await create(task_id)
        assert paused and (await store.tasks.get_task(task_id)).status == "waiting_approval"
        *_, paused = await create(task_id)
        assert not paused and (await store.tasks.get_task(task_id)).status == "waiting_approval"


async def test_an_approval_is_resolved_once_and_found_by_session_and_call(opened):
    approvals = opened.store.approvals
    await a_task(opened, "t1")
    stored, _ = await approvals.create_approval(approval("t1"), PAUSE, NOW)
    again, _ = await approvals.create_approval(approval("t1", approval_id="other"), PAUSE, NOW)
    assert again.approval_id == stored.approval_id
    decided = await approvals.resolve_approval(stored.approval_id, {"status": "edited", "modified_arguments": {"path": "b"}}, only_if_status="pending")
    assert (decided.status, decided.modified_arguments) == ("edited", {"path": "b"})
    assert await approvals.resolve_approval(stored.approval_id, {"status": "rejected"}, only_if_status="pending") is None
    assert await approvals.get_approval(stored.approval_id) == decided
    await approvals.create_approval(approval("t1", "call-2"), PAUSE, NOW)
    assert [a.call_id for a in await approvals.list_approvals("t1", "pending")] == ["call-2"]
    assert [a.call_id for a in await approvals.session_approvals("s1", call_id="call-1")] == ["call-1"]
    assert [a.call_id for a in await approvals.session_approvals("s1", "pending")] == ["call-2"]
    assert await approvals.session_approvals("other-session") == []


async def test_a_client_call_is_answered_once(opened):
    calls = opened.store.client_calls
    await a_task(opened, "t1")
    await calls.create_client_call(ClientCallRecord("t1", "c1", "read_editor", {"x": 1}, "pending", NOW), PAUSE, NOW)
    assert await calls.answer_client_call("t1", "c1", "it failed", True, NOW, transition=ANSWER)
    assert not await calls.answer_client_call("t1", "c1", "late", False, NOW, transition=ANSWER)
    answered = await calls.get_client_call("t1", "c1")
    assert (answered.status, answered.result, answered.is_error, answered.arguments) == ("answered", "it failed", True, {"x": 1})
    assert [c.call_id for c in await calls.session_client_calls("s1", "c1")] == ["c1"]
    assert await calls.get_client_call("t1", "missing") is None


async def test_an_artifact_replaces_the_one_of_its_name_and_is_found_by_id_or_name(opened):
    artifacts = opened.store.artifacts
    await a_task(opened, "t1")
    await artifacts.put_artifact(ArtifactRecord("a1", "t1", "diff.patch", "diff", "text/x-diff", 3, NOW, b"old"))
    await artifacts.put_artifact(ArtifactRecord("a2", "t1", "diff.patch", "diff", "text/x-diff", 3, NOW, b"new"))
    [listed] = await artifacts.list_artifacts("t1")
    assert (listed.artifact_id, listed.content) == ("a2", b"")
    assert (await artifacts.get_artifact("t1", "a2")).content == b"new"
    assert (await artifacts.get_artifact("t1", "diff.patch")).artifact_id == "a2"
    assert await artifacts.get_artifact("t1", "a1") is None


async def test_an_idempotency_record_is_kept_until_purged(opened):
    keys = opened.store.idempotency
    await keys.put_idempotent("alice", "CreateTask", "k1", "hash", b"response", NOW)
    assert await keys.get_idempotent("alice", "CreateTask", "k1", "2026-12-01T00:00:00.000Z") == ("hash", b"response")
    assert await keys.get_idempotent("bob", "CreateTask", "k1", "2026-12-01T00:00:00.000Z") is None
    # Older than `not_before`: as if gone.
    assert await keys.get_idempotent("alice", "CreateTask", "k1", "2026-12-03T00:00:00.000Z") is None
    assert await keys.purge_idempotent("2026-12-03T00:00:00.000Z") == 1
    assert await keys.get_idempotent("alice", "CreateTask", "k1", "2026-12-01T00:00:00.000Z") is None


async def test_switches_are_counted_against_the_limit_and_move_the_task(opened):
    switches = opened.store.switches
    await a_task(opened, "t1")
    assert await switches.get("s1") is None
    state = await switches.switch("s1", "orchestrator", AgentSwitchRecord("", "coder", "code it", NOW, "t1"), 2)
    assert (state.current_agent, state.previous_agent, state.switch_count) == ("coder", "orchestrator", 1)
    assert (await opened.store.tasks.get_task("t1")).agent_type == "coder"
    state = await switches.switch("s1", "orchestrator", AgentSwitchRecord("", "debug", "why", NOW), 2)
    assert [(s.from_agent, s.to_agent) for s in state.history] == [("orchestrator", "coder"), ("coder", "debug")]
    with pytest.raises(SwitchLimitReached):
        await switches.switch("s1", "orchestrator", AgentSwitchRecord("", "ask", "one more", NOW), 2)
    assert (await switches.get("s1")).switch_count == 2


async def test_a_profile_keeps_its_hitl_settings_and_others_get_the_defaults(opened):
    switches = opened.store.switches
    await opened.add_session("s1")
    hitl = HitlSettings([ClientTool("run_tests", "Runs the tests", {"type": "object"})], require_plan_approval=True)
    await switches.put_profile("s1", "u1", {"project_path": "/p"}, hitl)
    assert await switches.get_profile("s1") == ("u1", {"project_path": "/p"})
    assert await switches.get_hitl_settings("s1") == hitl
    assert await switches.get_profile("s2") is None
    assert await switches.get_hitl_settings("s2") == HitlSettings()
