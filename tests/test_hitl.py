"""Human in the loop for codelab sessions, through Envoy and gRPC: pending
approvals, hitl decisions answered as SSE continuations, decisions, plans
and client-side tool results as stream messages, and the approval events in
the session's event log. What a run does with a client tool's error and a
rejected plan is test_codelab_pauses.py (no Envoy). The scripted
OpenAI-format server plays the model."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest
import pytest_asyncio
import websockets
from google.protobuf import struct_pb2

from agentruntime.v1 import agent_pb2, agent_pb2_grpc

from agent_runtime.config import AgentsConfig
from agent_runtime.agents.models import ClientTool, HitlSettings
from agent_runtime.agents.codelab import MessageReply
from agent_helpers import codelab_session, git_project, sse, unsequenced
from conftest import TEST_API_KEY, grpc_metadata, http_client, make_settings, running
from identity_helpers import bearer, identity_settings, new_user
from llm_fakes import Call, Reply

FLUTTER_TESTS = {
    "name": "run_flutter_tests",
    "description": "Runs the project's Flutter tests in the IDE and returns the counts.",
    "parameters": {"type": "object", "properties": {"target": {"type": "string"}}},
}


def hitl_sections(fake) -> dict:
    """The `llm` and `agents` changes of this file's servers."""
    return {
        "llm": {"openai_base_url": fake.base_url, "max_retries": 0, "timeout_seconds": 10},
        "agents": {"command_timeout_seconds": 5, "hitl_dangerous_tools": ("write_file",)},
    }


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory, fake):
    async with running(identity_settings(tmp_path_factory.mktemp("data"), **hitl_sections(fake))) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def http(runtime):
    async with http_client(runtime) as client:
        yield client


async def message(http, session_id: str, **fields) -> list[dict]:
    return await sse(http, "/agent/message/stream", {"session_id": session_id, "message": fields})


def kinds(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def tool_messages(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


async def session_log(http, session_id: str) -> list[dict]:
    response = await http.get(f"/sessions/{session_id}/events")
    assert response.status_code == 200, response.text
    return response.json()["events"]


ROUTE_THEN_WRITE = [
    Reply(tool_calls=[Call("switch_agent", {"agent_type": "coder", "reason": "User requested code implementation"}, id="route1")]),
    Reply(text="Writing the widget", tool_calls=[Call("write_file", {"path": "lib/profile.dart", "content": "class Profile {}\n"}, id="write1")]),
    Reply(text="Done: the widget is written"),
]
EDITED = {"path": "lib/widgets/profile.dart", "content": "class Profile {}\n"}



async def inbox_of(http, session_id: str) -> list[dict]:
    """The caller's inbox items of one session (other tests' sessions share the server)."""
    response = await http.get("/api/inbox")
    assert response.status_code == 200, response.text
    return [item for item in response.json()["items"] if item["session_id"] == session_id]

async def test_edit_decision_writes_at_the_edited_path_over_sse(http, fake, project):
    session_id = await codelab_session(http, project)
    fake.add(*ROUTE_THEN_WRITE)
    events = await message(http, session_id, type="user_message", content="Создай новый виджет профиля")
    # orchestrator → coder, the coder's text, its write paused for approval:
    # the stream ends there, saying what the run waits for.
    order = kinds(events)
    assert order.index("agent_switched") < order.index("assistant_message") < order.index("approval_required") == len(order) - 2
    switched = events[order.index("agent_switched")]
    assert (switched["from_agent"], switched["to_agent"]) == ("orchestrator", "coder")
    required = events[-2]
    assert (required["call_id"], required["tool_name"], required["arguments"]) == ("write1", "write_file", ROUTE_THEN_WRITE[1].tool_calls[0].arguments)
    assert required["reason"] == "write_file is in HITL_DANGEROUS_TOOLS and needs approval" and required["approval_id"]
    assert unsequenced(events[-1]) == {"type": "done", "status": "waiting_approval", "call_id": "write1", "task_id": required["task_id"]}
    assert "tool_call" not in order and not (project / "lib").exists()

    response = await http.get(f"/sessions/{session_id}/pending-approvals")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "pending_approvals": [
            {
                "call_id": "write1",
                "tool_name": "write_file",
                "arguments": {"path": "lib/profile.dart", "content": "class Profile {}\n"},
                "reason": "write_file is in HITL_DANGEROUS_TOOLS and needs approval",
            }
        ]
    }
    # The same approval in the inbox across sessions, with its session and task.
    [waiting] = await inbox_of(http, session_id)
    assert {k: waiting[k] for k in ("task_id", "call_id", "kind", "tool_name", "arguments")} == {
        "task_id": required["task_id"], "call_id": "write1", "kind": "approval", "tool_name": "write_file",
        "arguments": {"path": "lib/profile.dart", "content": "class Profile {}\n"},
    }
    assert waiting["create_time"]
    # A new user message would race the paused run: refused, saying how to
    # answer instead.
    busy = await http.post("/agent/message/stream", json={"session_id": session_id, "message": {"type": "user_message", "content": "hi"}})
    assert busy.status_code == 409 and busy.json()["code"] == "SESSION_BUSY"
    assert "write1" in busy.json()["detail"] and "hitl_decision" in busy.json()["detail"]

    decision = {"call_id": "write1", "decision": "edit", "modified_arguments": EDITED, "feedback": "Modified path for safety"}
    events = await sse(http, f"/sessions/{session_id}/hitl-decision", decision)
    order = kinds(events)
    call = events[order.index("tool_call")]
    assert call["call_id"] == "write1" and call["arguments"] == EDITED and "client_side" not in call
    result = events[order.index("tool_result")]
    assert result["success"] is True and "lib/widgets/profile.dart" in result["result"]
    assert order.index("tool_call") < order.index("tool_result") < order.index("assistant_message") < len(order) - 1
    assert "".join(e["token"] for e in events if e["type"] == "assistant_message") == "Done: the widget is written"
    assert unsequenced(events[-1]) == {"type": "done", "status": "completed", "task_id": call["task_id"]}
    assert (project / "lib" / "widgets" / "profile.dart").read_text() == "class Profile {}\n"
    assert not (project / "lib" / "profile.dart").exists()
    assert "lib/widgets/profile.dart" in tool_messages(fake.requests[-1])[-1]

    assert (await http.get(f"/sessions/{session_id}/pending-approvals")).json() == {"pending_approvals": []}
    assert await inbox_of(http, session_id) == []
    again = await http.post(f"/sessions/{session_id}/hitl-decision", json=decision)
    assert again.status_code == 409 and again.json()["code"] == "APPROVAL_RESOLVED"

    # The approval's life is in the session's event log (and so on /ws).
    logged = [e for e in await session_log(http, session_id) if e["event_type"].startswith("approval.")]
    assert [e["event_type"] for e in logged] == ["approval.requested", "approval.approved"]
    assert logged[0]["tool_name"] == "write_file" and logged[0]["tool_input"]["path"] == "lib/profile.dart"
    assert logged[1]["payload"]["decision"] == "edit" and logged[1]["payload"]["modified_arguments"] == EDITED
    assert logged[1]["payload"]["call_id"] == "write1" and logged[1]["payload"]["feedback"] == "Modified path for safety"


async def test_a_broken_stream_resumes_after_its_last_sequence(runtime, http, fake, project):
    """Every stream event carries the `sequence` of its run event;
    `GET /agent/runs/{task_id}/stream?after_sequence=N` streams the rest of
    the run as if the first stream had not broken, and waits live at a pause."""
    session_id = await codelab_session(http, project)
    fake.add(*ROUTE_THEN_WRITE)
    first = await message(http, session_id, type="user_message", content="write the widget")
    task_id = first[-1]["task_id"]
    sequences = [e["sequence"] for e in first]
    assert sequences == sorted(sequences) and sequences[0] >= 1
    runs = f"/agent/runs/{task_id}/stream"
    assert await sse(http, runs) == first
    cut = first[kinds(first).index("agent_switched")]["sequence"]
    assert await sse(http, runs, params={"after_sequence": cut}) == [e for e in first if e["sequence"] > cut]

    # Re-attached after the pause: the continuation arrives once decided.
    waiting = asyncio.create_task(sse(http, runs, params={"after_sequence": first[-1]["sequence"]}))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    decided = await sse(http, f"/sessions/{session_id}/hitl-decision", {"call_id": "write1", "decision": "approve"})
    assert decided[-1]["status"] == "completed" and await asyncio.wait_for(waiting, 10) == decided

    # Re-attached after the end: just how it ended.
    assert await sse(http, runs, params={"after_sequence": decided[-1]["sequence"]}) == [decided[-1]]

    # The same over gRPC.
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        call = stub.ResumeAgentStream(agent_pb2.ResumeAgentStreamRequest(task_id=task_id, after_sequence=cut), metadata=grpc_metadata())
        replayed = [event async for event in call]
    # Up to the `done` of the pause, as on REST.
    assert [(e.type, e.sequence) for e in replayed] == [(e["type"], e["sequence"]) for e in first if e["sequence"] > cut]

    for params, status, code in (({"after_sequence": -1}, 400, None), ({}, 404, "TASK_NOT_FOUND")):
        response = await http.get(runs if params else "/agent/runs/no-such-run/stream", params=params)
        assert response.status_code == status, response.text
        if code:
            assert response.json()["code"] == code
    # Another user's run is as unknown as a missing one.
    async with http_client(runtime, None) as keyless:
        _, token = await new_user(keyless, "eve")
        response = await keyless.get(runs, headers=bearer(token))
        assert response.status_code == 404 and response.json()["code"] == "TASK_NOT_FOUND", response.text


async def test_a_client_that_drops_mid_run_misses_nothing(http, fake, project):
    """The run goes on without its stream; re-attached after the last event
    it read, the client gets the rest, ending with `done`."""
    session_id = await codelab_session(http, project)
    fake.add(
        Reply(tool_calls=[Call("switch_agent", {"agent_type": "ask", "reason": "a question"}, id="s1")]),
        Reply(text="The answer is 42", delay=1.0),
    )
    body = {"session_id": session_id, "message": {"type": "user_message", "content": "What is the answer?"}}
    async with http.stream("POST", "/agent/message/stream", json=body) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                seen = json.loads(line[len("data: ") :])
                break
    # The connection is closed: the model is still thinking.
    assert seen["type"] == "agent_switched"
    rest = await sse(http, f"/agent/runs/{seen['task_id']}/stream", params={"after_sequence": seen["sequence"]})
    assert "".join(e["token"] for e in rest if e["type"] == "assistant_message") == "The answer is 42"
    assert rest[-1]["type"] == "done" and rest[-1]["status"] == "completed"
    whole = await sse(http, f"/agent/runs/{seen['task_id']}/stream")
    assert whole == [e for e in whole if e["sequence"] <= seen["sequence"]] + rest


async def test_edit_decision_over_grpc(runtime, fake, project):
    session_id = (await runtime.agents.codelab.create_codelab_session("u", {"project_path": str(project)})).session.session_id
    fake.add(*ROUTE_THEN_WRITE)
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        request = agent_pb2.SendAgentMessageRequest(
            session_id=session_id, message=agent_pb2.AgentMessage(type="user_message", content="Создай новый виджет профиля")
        )
        events = [e async for e in stub.SendAgentMessage(request, metadata=grpc_metadata())]
        assert [e.type for e in events][-2:] == ["approval_required", "done"]
        assert events[0].type == "agent_switched" and events[-1].status == "waiting_approval"

        pending = await stub.ListPendingApprovals(agent_pb2.ListPendingApprovalsRequest(session_id=session_id), metadata=grpc_metadata())
        [approval] = pending.pending_approvals
        assert (approval.call_id, approval.tool_name, approval.arguments["path"]) == ("write1", "write_file", "lib/profile.dart")

        edited = struct_pb2.Struct()
        edited.update(EDITED)
        decision = agent_pb2.SubmitHitlDecisionRequest(session_id=session_id, call_id="write1", decision="edit", modified_arguments=edited)
        events = [e async for e in stub.SubmitHitlDecision(decision, metadata=grpc_metadata())]
        order = [e.type for e in events]
        assert order.index("tool_call") < order.index("tool_result") < len(order) - 1
        assert events[order.index("tool_call")].arguments["path"] == "lib/widgets/profile.dart"
        assert events[-1].type == "done" and events[-1].status == "completed"

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            [e async for e in stub.SubmitHitlDecision(decision, metadata=grpc_metadata())]
        assert refused.value.code() == grpc.StatusCode.ABORTED and "already resolved" in refused.value.details()
    assert (project / "lib" / "widgets" / "profile.dart").exists() and not (project / "lib" / "profile.dart").exists()


async def test_reject_decision_as_a_stream_message(runtime, http, fake, project):
    session_id = await codelab_session(http, project)
    fake.add(
        Reply(tool_calls=[Call("switch_agent", {"agent_type": "coder", "reason": "code"}, id="r1")]),
        Reply(tool_calls=[Call("write_file", {"path": "danger.py", "content": "x"}, id="w1")]),
        Reply(text="Understood, nothing written"),
    )
    events = await message(http, session_id, type="user_message", content="write danger.py")
    assert events[-1]["status"] == "waiting_approval"
    # A /ws client following the session sees the decision live.
    after = (await session_log(http, session_id))[-1]["sequence"]
    feed = runtime.http_url.replace("http://", "ws://") + f"/ws?session_id={session_id}&after_sequence={after}"
    async with websockets.connect(feed, additional_headers={"x-api-key": TEST_API_KEY}) as socket:
        events = await message(http, session_id, type="hitl_decision", call_id="w1", decision="reject", feedback="not in this project")
        followed = []
        while "approval.rejected" not in followed:
            update = json.loads(await asyncio.wait_for(socket.recv(), 5))
            if update["type"] == "event":
                followed.append(update["data"]["event_type"])
    order = kinds(events)
    rejected = events[order.index("tool_result")]
    assert rejected["success"] is False and rejected["result"] == "The user rejected this write_file call: not in this project"
    assert "tool_call" not in order and events[-1]["status"] == "completed"
    assert not (project / "danger.py").exists()
    assert tool_messages(fake.requests[-1])[-1] == "The user rejected this write_file call: not in this project"
    logged = [e for e in await session_log(http, session_id) if e["event_type"].startswith("approval.")]
    assert [e["event_type"] for e in logged] == ["approval.requested", "approval.rejected"]
    assert logged[1]["payload"] | {"task_id": None, "approval_id": None} == {
        "task_id": None, "approval_id": None, "call_id": "w1", "status": "rejected", "decision": "reject", "feedback": "not in this project",
    }


async def test_client_side_tool_waits_for_the_clients_result(http, fake, project):
    session_id = await codelab_session(http, project, client_tools=[FLUTTER_TESTS])
    fake.add(
        Reply(tool_calls=[Call("switch_agent", {"agent_type": "debug", "reason": "tests"}, id="r1")]),
        Reply(text="Running the tests in your IDE", tool_calls=[Call("run_flutter_tests", {"target": "test/profile_test.dart"}, id="ct1")]),
        Reply(text="All 12 tests pass"),
    )
    before = len(fake.requests)
    events = await message(http, session_id, type="user_message", content="Do the tests pass?")
    call = events[-2]
    assert unsequenced(call) == {
        "type": "tool_call", "call_id": "ct1", "tool_name": "run_flutter_tests", "arguments": {"target": "test/profile_test.dart"},
        "client_side": True, "task_id": call["task_id"],
    }
    assert unsequenced(events[-1]) == {"type": "done", "status": "waiting_tool_result", "call_id": "ct1", "task_id": call["task_id"]}
    offered = [t["function"] for t in fake.requests[before + 1]["tools"]]
    assert {"name": "run_flutter_tests", "description": FLUTTER_TESTS["description"], "parameters": FLUTTER_TESTS["parameters"]} in offered
    # Not an approval: nothing pending for a human to decide, but the inbox
    # shows the call waiting for its result.
    assert (await http.get(f"/sessions/{session_id}/pending-approvals")).json() == {"pending_approvals": []}
    [waiting] = await inbox_of(http, session_id)
    assert (waiting["kind"], waiting["call_id"], waiting["tool_name"]) == ("client_tool", "ct1", "run_flutter_tests")

    events = await message(http, session_id, type="tool_result", call_id="ct1", result={"passed": 12, "failed": 0})
    order = kinds(events)
    result = events[order.index("tool_result")]
    assert result["success"] is True and json.loads(result["result"]) == {"passed": 12, "failed": 0}
    assert events[-1]["status"] == "completed"
    assert await inbox_of(http, session_id) == []
    # The model reads the JSON the client sent (whole numbers stay whole).
    sent = tool_messages(fake.requests[-1])[-1]
    assert json.loads(sent) == {"passed": 12, "failed": 0} and "12.0" not in sent

    again = await http.post("/agent/message/stream", json={"session_id": session_id, "message": {"type": "tool_result", "call_id": "ct1", "result": "x"}})
    assert again.status_code == 409 and again.json()["code"] == "TOOL_RESULT_ALREADY_GIVEN"


PLAN = {"steps": [{"description": "Add the widget"}, {"description": "Build it"}]}


async def test_plan_approval_gates_the_run_until_approved(http, fake, project):
    session_id = await codelab_session(http, project, require_plan_approval=True)
    fake.add(
        Reply(tool_calls=[Call("switch_agent", {"agent_type": "coder", "reason": "code"}, id="r1")]),
        Reply(tool_calls=[Call("execute_command", {"command": "echo early"}, id="e0")]),
        Reply(text="Here is my plan", tool_calls=[Call("update_plan", PLAN, id="p1")]),
        Reply(tool_calls=[Call("execute_command", {"command": "echo built"}, id="e1")]),
        Reply(text="Built"),
    )
    events = await message(http, session_id, type="user_message", content="Build the widget")
    [refused] = [e for e in events if e["type"] == "tool_result" and e["call_id"] == "e0"]
    assert refused["code"] == "PLAN_NOT_APPROVED" and refused["success"] is False and "update_plan" in refused["result"]
    asked = events[-2]
    assert asked["type"] == "plan_approval_required" and asked["call_id"] == "p1"
    assert asked["plan"] == {"steps": [
        {"id": "step-1", "description": "Add the widget", "status": "pending"},
        {"id": "step-2", "description": "Build it", "status": "pending"},
    ]}
    assert events[-1]["status"] == "waiting_plan_approval"
    [pending] = (await http.get(f"/sessions/{session_id}/pending-approvals")).json()["pending_approvals"]
    assert pending["tool_name"] == "update_plan" and pending["arguments"] == PLAN and "plan" in pending["reason"].lower()

    bad = await http.post("/agent/message/stream", json={"session_id": session_id, "message": {"type": "plan_decision", "decision": "edit"}})
    assert bad.status_code == 400 and "approve, reject" in bad.json()["detail"]
    not_a_plan = await http.post(
        "/agent/message/stream", json={"session_id": session_id, "message": {"type": "plan_decision", "call_id": "e0", "decision": "approve"}}
    )
    assert not_a_plan.status_code == 404 and not_a_plan.json()["code"] == "APPROVAL_NOT_FOUND"
    events = await message(http, session_id, type="plan_decision", call_id="p1", decision="approve")
    approved = events[kinds(events).index("tool_result")]
    assert approved["call_id"] == "p1" and approved["success"] is True and "approved this plan" in approved["result"]
    ran = [e for e in events if e["type"] == "tool_result" and e["call_id"] == "e1"]
    assert ran[0]["success"] is True and "built" in ran[0]["result"]
    assert events[-1]["status"] == "completed"
    task = (await http.get(f"/api/tasks/{events[-1]['task_id']}")).json()
    assert [s["description"] for s in task["plan"]["steps"]] == ["Add the widget", "Build it"]


async def test_bad_inputs(runtime, http, fake, project):
    session_id = await codelab_session(http, project)
    fake.add(
        Reply(tool_calls=[Call("switch_agent", {"agent_type": "coder", "reason": "code"}, id="r1")]),
        Reply(tool_calls=[Call("write_file", {"path": "a.txt", "content": "a"}, id="w9")]),
    )
    await message(http, session_id, type="user_message", content="write a.txt")
    decide = f"/sessions/{session_id}/hitl-decision"
    cases = [
        (decide, {"call_id": "nope", "decision": "approve"}, 404, "APPROVAL_NOT_FOUND"),
        (decide, {"call_id": "w9", "decision": "maybe"}, 400, "INVALID_DECISION"),
        (decide, {"call_id": "w9", "decision": "edit"}, 400, "INVALID_DECISION"),
        (decide, {"decision": "approve"}, 400, None),
        ("/sessions/no-such-session/hitl-decision", {"call_id": "w9", "decision": "approve"}, 404, "SESSION_NOT_FOUND"),
        ("/agent/message/stream", {"session_id": session_id, "message": {"type": "tool_result", "result": "x"}}, 400, None),
        ("/agent/message/stream", {"session_id": session_id, "message": {"type": "tool_result", "call_id": "w9", "result": "x"}}, 404, "TOOL_CALL_NOT_FOUND"),
        ("/agent/message/stream", {"session_id": session_id, "message": {"type": "tool_result", "call_id": "w9"}}, 400, None),
        ("/agent/message/stream", {"session_id": session_id, "message": {"type": "plan_decision", "decision": "approve"}}, 404, "APPROVAL_NOT_FOUND"),
        ("/agent/message/stream", {"session_id": session_id, "message": {"type": "hitl_decision", "decision": "approve"}}, 400, None),
    ]
    for path, body, status, code in cases:
        response = await http.post(path, json=body)
        assert response.status_code == status, (body, response.text)
        if code:
            assert response.json()["code"] == code, (body, response.text)
    maybe = await http.post(decide, json={"call_id": "w9", "decision": "maybe"})
    assert "approve, edit, reject" in maybe.json()["detail"]
    assert (await http.get("/sessions/no-such-session/pending-approvals")).status_code == 404

    # Owned like every session: another user gets the same 404.
    async with http_client(runtime, None) as keyless:
        _, token = await new_user(keyless, "mallory")
        for response in (
            await keyless.get(f"/sessions/{session_id}/pending-approvals", headers=bearer(token)),
            await keyless.post(decide, json={"call_id": "w9", "decision": "approve"}, headers=bearer(token)),
        ):
            assert response.status_code == 404 and response.json()["code"] == "SESSION_NOT_FOUND", response.text
    assert len((await http.get(f"/sessions/{session_id}/pending-approvals")).json()["pending_approvals"]) == 1

    bad_tools = [
        ({"client_tools": [{**FLUTTER_TESTS, "name": "write_file"}]}, "taken"),
        ({"client_tools": [{**FLUTTER_TESTS, "name": "run tests"}]}, "name"),
        ({"client_tools": [{**FLUTTER_TESTS, "description": ""}]}, "description"),
        ({"client_tools": [{**FLUTTER_TESTS, "parameters": {"type": "string"}}]}, "parameters"),
        ({"client_tools": [FLUTTER_TESTS, FLUTTER_TESTS]}, "taken"),
    ]
    for extra, word in bad_tools:
        response = await http.post("/api/v1/sessions", json={"user_id": "u", **extra})
        assert response.status_code == 422 and word in response.json()["detail"], response.text


async def test_waiting_runs_survive_a_restart(tmp_path, fake):
    """A pending approval and a client tool call are stored: after a restart
    the list is there and the answers continue the runs."""
    project = git_project(tmp_path / "project")
    settings = make_settings(tmp_path / "data", **hitl_sections(fake), server={"run_envoy": False})

    async def drain(events) -> list[dict]:
        return [e async for e in events]

    async with running(settings) as runtime:
        agents = runtime.agents.codelab
        approving = (await agents.create_codelab_session("u", {"project_path": str(project)})).session.session_id
        fake.add(Reply(tool_calls=[Call("write_file", {"path": "kept.txt", "content": "kept\n"}, id="w1")]))
        events = await drain(agents.send_message(approving, "switch_agent", "write kept.txt", "coder", owner="u"))
        assert events[-1]["status"] == "waiting_approval"
        client = await agents.create_codelab_session(
            "u", {"project_path": str(project)}, hitl=HitlSettings([ClientTool(**FLUTTER_TESTS)])
        )
        fake.add(Reply(tool_calls=[Call("run_flutter_tests", {}, id="ct1")]))
        events = await drain(agents.send_message(client.session.session_id, "switch_agent", "test it", "ask", owner="u"))
        assert events[-1]["status"] == "waiting_tool_result"

    async with running(settings) as runtime:
        agents = runtime.agents.codelab
        [pending] = await agents.pending_approvals(approving)
        assert (pending.call_id, pending.arguments["path"]) == ("w1", "kept.txt")
        fake.add(Reply(text="written"), Reply(text="green"))
        events = await drain(agents.hitl_decision(approving, MessageReply(call_id="w1", decision="approve")))
        assert events[-1]["status"] == "completed" and (project / "kept.txt").read_text() == "kept\n"
        events = await drain(agents.tool_result(client.session.session_id, MessageReply(call_id="ct1", result="12 passed")))
        assert events[-1]["status"] == "completed" and tool_messages(fake.requests[-1]) == ["12 passed"]


def test_hitl_enabled_false_means_no_tool_waits(monkeypatch):
    monkeypatch.setenv("HITL_DANGEROUS_TOOLS", "write_file,delete_file")
    assert AgentsConfig.from_env().hitl_dangerous_tools == ("write_file", "delete_file")
    monkeypatch.setenv("HITL_ENABLED", "false")
    assert AgentsConfig.from_env().hitl_dangerous_tools == ()
