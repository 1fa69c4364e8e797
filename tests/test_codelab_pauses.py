"""What a paused codelab run does with the answer it waits for: a client
tool's error reaches the model; a rejected plan is re-planned with the
feedback, and a reject without feedback ends the run. The agents domain of
a real server without Envoy; the same pauses as SSE continuations and
their REST errors are test_hitl.py. The scripted OpenAI-format server plays
the model."""

from __future__ import annotations

import pytest
import pytest_asyncio

from agent_runtime.agents.codelab import MessageReply
from agent_runtime.agents.models import ClientTool, HitlSettings
from agent_runtime.errors import Conflict
from conftest import make_settings, running
from llm_fakes import Call, Reply
from test_hitl import FLUTTER_TESTS, PLAN, hitl_sections, kinds, tool_messages

OWNER = "alice"


@pytest_asyncio.fixture(scope="module")
async def codelab_runtime(tmp_path_factory, fake):
    settings = make_settings(tmp_path_factory.mktemp("data"), **hitl_sections(fake), server={"run_envoy": False})
    async with running(settings) as started:
        yield started


@pytest.fixture
def codelab(codelab_runtime):
    return codelab_runtime.agents.codelab


async def message(codelab, session_id: str, message_type: str, content: str = "", agent_type: str = "", **reply) -> list[dict]:
    stream = codelab.send_message(session_id, message_type, content, agent_type, owner=OWNER, reply=MessageReply(**reply))
    return [event async for event in stream]


async def test_client_tool_error_reaches_the_model(codelab, fake, project):
    tool = ClientTool(FLUTTER_TESTS["name"], FLUTTER_TESTS["description"], FLUTTER_TESTS["parameters"])
    created = await codelab.create_codelab_session(OWNER, {"project_path": str(project)}, hitl=HitlSettings(client_tools=[tool]))
    session_id = created.session.session_id
    fake.add(Reply(tool_calls=[Call("run_flutter_tests", {}, id="ct2")]), Reply(text="The IDE could not run them"))
    events = await message(codelab, session_id, "switch_agent", "run the tests", "ask")
    assert events[-1]["status"] == "waiting_tool_result"
    events = await message(codelab, session_id, "tool_result", call_id="ct2", error="flutter SDK not found")
    failed = events[kinds(events).index("tool_result")]
    assert failed["success"] is False and failed["result"] == "flutter SDK not found"
    assert fake.requests[-1]["messages"][-1] == {"role": "tool", "tool_call_id": "ct2", "content": "flutter SDK not found"}


async def test_plan_rejection_replans_with_feedback_or_ends_the_run(codelab_runtime, codelab, fake, project):
    hitl = HitlSettings(require_plan_approval=True)
    created = await codelab.create_codelab_session(OWNER, {"project_path": str(project)}, hitl=hitl)
    session_id = created.session.session_id
    fake.add(
        Reply(tool_calls=[Call("switch_agent", {"agent_type": "coder", "reason": "code"}, id="r1")]),
        Reply(tool_calls=[Call("update_plan", PLAN, id="p1")]),
        Reply(tool_calls=[Call("update_plan", {"steps": [{"description": "Write tests first"}]}, id="p2")]),
    )
    events = await message(codelab, session_id, "user_message", "Build the widget")
    assert events[-1]["status"] == "waiting_plan_approval"
    events = await message(codelab, session_id, "plan_decision", decision="reject", feedback="write the tests first")
    rejected = events[kinds(events).index("tool_result")]
    assert rejected["success"] is False and "write the tests first" in rejected["result"] and "new plan" in rejected["result"]
    assert "write the tests first" in tool_messages(fake.requests[-1])[-1]
    # The model re-planned; a reject without feedback ends the run.
    assert events[-2]["type"] == "plan_approval_required" and events[-2]["call_id"] == "p2"
    events = await message(codelab, session_id, "plan_decision", decision="reject")
    assert events[-1]["type"] == "done" and events[-1]["status"] == "stopped"
    with pytest.raises(Conflict) as decided:
        await message(codelab, session_id, "plan_decision", call_id="p2", decision="approve")
    assert decided.value.code == "APPROVAL_RESOLVED"
    task = await codelab_runtime.agents.tasks.get_task(events[-1]["task_id"])
    assert task.status == "stopped" and task.error_code == "PLAN_REJECTED"
    log = await codelab_runtime.sessions.list_events(session_id)
    logged = [e.event_type for e in log if e.event_type.startswith("approval.")]
    assert logged == ["approval.requested", "approval.rejected", "approval.requested", "approval.rejected"]
