"""The run-event vocabulary (agents/run_events.py): the stored body of each
event, its reading back, its codelab stream events and its /ws/tasks fields.
No server."""

from __future__ import annotations

import dataclasses

from agentruntime.v1 import agent_pb2 as pb
from agent_runtime.agents import run_events
from agent_runtime.agents.codelab_stream import stream_events
from agent_runtime.agents.convert import event_to_proto
from agent_runtime.agents.models import TaskEventRecord
from agent_runtime.gateway.task_socket import TASK_EVENT_FIELDS, task_event_message

NOW = "2026-12-02T10:00:00.000Z"


def stored(event: run_events.RunEvent, sequence: int = 1) -> TaskEventRecord:
    return TaskEventRecord("t1", sequence, event.TYPE, event.body("t1", NOW))


def test_a_body_has_the_envelope_then_the_fields_and_leaves_unset_optional_ones_out():
    result = run_events.ToolResult(tool="read_file", output="x", success=True, call_id="c1")
    assert result.body("t1", NOW) == {
        "type": "tool_result", "task_id": "t1", "timestamp": NOW, "tool": "read_file", "output": "x", "success": True, "call_id": "c1"
    }
    assert list(result.body("t1", NOW)) == ["type", "task_id", "timestamp", "tool", "output", "success", "call_id"]
    refused = run_events.ToolResult(tool="x", output="Error", call_id="c2", code="INVALID_TOOL", client_side=True)
    assert list(refused.fields())[-2:] == ["code", "client_side"]
    paused = run_events.Status(status="waiting_approval", message="m", waiting_for="approval", call_id="c1")
    assert paused.fields() == {"status": "waiting_approval", "message": "m", "waiting_for": "approval", "call_id": "c1"}
    assert run_events.Status(status="running", message="m").fields() == {"status": "running", "message": "m"}


def test_every_event_reads_back_as_it_was_written():
    events = [
        run_events.Status(status="completed", message="done"),
        run_events.Token(content="he"),
        run_events.ToolCallEvent(tool="read_file", input={"path": "a"}, call_id="c1", client_side=True),
        run_events.ToolResult(tool="read_file", output="x", success=False, call_id="c1", code="TOOL_EXECUTION_FAILED"),
        run_events.PlanUpdate(plan={"steps": [{"id": "1", "description": "d", "status": "pending"}]}),
        run_events.Error(error="boom", code="LLM_ERROR"),
        run_events.ApprovalRequired(approval={"id": "a1"}, tool="write_file", input={"path": "a"}, call_id="c1"),
        run_events.PlanApprovalRequired(approval={"id": "a2"}, tool="update_plan", input={"steps": []}, call_id="c2"),
        run_events.AgentSwitched(from_agent="orchestrator", to_agent="coder", reason="code", call_id="c3"),
    ]
    assert sorted(e.TYPE for e in events) == sorted(run_events.RUN_EVENT_TYPES)
    for event in events:
        assert run_events.parse(stored(event)) == event
    assert run_events.parse(TaskEventRecord("t1", 1, "from_the_future", {})) is None


def test_every_field_of_every_event_is_a_field_of_the_task_event_message():
    """The gRPC/REST/SSE form: no field of the vocabulary is dropped on the wire."""
    names = set(pb.TaskEvent.DESCRIPTOR.fields_by_name)
    for cls in run_events.RUN_EVENT_TYPES.values():
        assert {field.name for field in dataclasses.fields(cls)} <= names, cls.TYPE
    message = event_to_proto(stored(run_events.AgentSwitched(from_agent="a", to_agent="b", reason="r", call_id="c")))
    assert (message.type, message.from_agent, message.to_agent, message.reason, message.call_id) == ("agent_switched", "a", "b", "r", "c")


def test_the_task_websocket_prints_the_documented_fields_of_each_type():
    assert TASK_EVENT_FIELDS["tool_result"] == ("tool", "output", "success", "call_id")
    assert TASK_EVENT_FIELDS["agent_switched"] == ()
    refused = run_events.ToolResult(tool="x", output="Error", call_id="c2", code="INVALID_TOOL")
    assert task_event_message(event_to_proto(stored(refused, 4))) == {
        "type": "tool_result", "sequence": 4, "task_id": "t1", "timestamp": NOW, "tool": "x", "output": "Error", "success": False, "call_id": "c2"
    }


def test_codelab_stream_events_of_a_run():
    assert stream_events(stored(run_events.Token(content="he"))) == [
        {"type": "assistant_message", "token": "he", "is_final": False, "task_id": "t1"}
    ]
    paused = run_events.Status(status="waiting_approval", message="m", waiting_for="tool_result", call_id="c1")
    assert stream_events(stored(paused)) == [{"type": "done", "status": "waiting_tool_result", "task_id": "t1", "call_id": "c1"}]
    assert [e["type"] for e in stream_events(stored(run_events.Status(status="completed", message="ok")))] == ["assistant_message", "done"]
    plan = run_events.PlanApprovalRequired(approval={"id": "a2", "reason": "why"}, tool="update_plan", input={"steps": [{"description": "d"}]}, call_id="c2")
    [required] = stream_events(stored(plan))
    assert required["plan"] == {"steps": [{"id": "step-1", "description": "d", "status": "pending"}]} and required["approval_id"] == "a2"
    assert stream_events(stored(run_events.PlanUpdate(plan={"steps": []}))) == []
