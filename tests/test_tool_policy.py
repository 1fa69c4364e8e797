"""Tool policy and pause timing as pure functions: no server, no store."""

from __future__ import annotations

import pytest

from agent_runtime.agents.models import ApprovalRecord
from agent_runtime.agents.pauses import APPROVAL_POLL_SECONDS, next_check_after
from agent_runtime.agents.run_end import RunEnded
from agent_runtime.agents.tool_policy import (
    PLAN_FREE_TOOLS,
    approved_note,
    invalid_tool,
    pending_calls,
    refusal_code,
    rejection_output,
    route_call,
    tools_for,
)
from agent_runtime.llm.base import ChatMessage, ToolCall

NOW = "2026-12-02T10:00:00.000Z"


def call(name: str, **arguments) -> ToolCall:
    return ToolCall(f"id-{name}", name, arguments)


def route(agent_type: str, tool_call: ToolCall, *, plan_gate=False, client_tools=(), dangerous=()):
    allowed = tools_for(agent_type, [], can_switch=True) + list(client_tools)
    return route_call(agent_type, tool_call, allowed, plan_gate=plan_gate, client_tools=set(client_tools), dangerous_tools=set(dangerous))


def decided(status: str, feedback: str = "", tool: str = "write_file") -> ApprovalRecord:
    return ApprovalRecord("a1", "t1", "alice", "c1", tool, {}, "why", status, NOW, feedback=feedback)


def test_requested_tools_narrow_an_agents_set_but_never_widen_it():
    assert tools_for("coder", ["read_file", "nuke_disk"]) == ["read_file"]
    assert "update_plan" in tools_for("ask", [])
    assert tools_for("coder", ["nuke_disk"]) == tools_for("coder", [])


def test_an_architect_writes_only_markdown():
    allowed = tools_for("architect", [])
    assert invalid_tool("architect", "write_file", {"path": "docs/design.md"}, allowed) is None
    refusal = invalid_tool("architect", "write_file", {"path": "main.py"}, allowed)
    assert refusal is not None and refusal_code(refusal) == "INVALID_TOOL"


def test_a_tool_outside_the_set_is_refused_before_anything_else():
    routed = route("ask", call("write_file", path="x"), dangerous={"write_file"})
    assert refusal_code(routed.refusal) == "INVALID_TOOL" and not routed.needs_approval


def test_without_an_approved_plan_only_plan_free_tools_run_and_the_plan_waits_for_approval():
    assert refusal_code(route("coder", call("write_file", path="x"), plan_gate=True).refusal) == "PLAN_NOT_APPROVED"
    assert route("coder", call("read_file", path="x"), plan_gate=True).refusal is None
    assert route("coder", call("update_plan", steps=[]), plan_gate=True).needs_approval
    assert not route("coder", call("update_plan", steps=[])).needs_approval
    assert "write_file" not in PLAN_FREE_TOOLS


def test_calls_go_to_their_handler():
    assert route("orchestrator", call("switch_agent", agent_type="coder", reason="r")).switch
    assert route("coder", call("run_ide_tests"), client_tools=["run_ide_tests"]).client_side
    assert route("coder", call("write_file", path="x"), dangerous={"write_file"}).needs_approval
    assert route("coder", call("write_file", path="x")) == route("coder", call("read_file", path="x"))


def test_a_rejected_call_tells_the_model_why_and_a_rejected_plan_without_feedback_ends_the_run():
    assert rejection_output("write_file", decided("rejected", "not there")) == "The user rejected this write_file call: not there"
    assert rejection_output("write_file", decided("expired")).endswith("the approval expired")
    replan = rejection_output("update_plan", decided("rejected", "smaller steps", tool="update_plan"))
    assert "smaller steps" in replan and replan.endswith("propose it with update_plan.")
    for status, feedback in (("rejected", ""), ("expired", "too late")):
        with pytest.raises(RunEnded) as ended:
            rejection_output("update_plan", decided(status, feedback, tool="update_plan"))
        assert (ended.value.status, ended.value.code) == ("stopped", "PLAN_REJECTED")
    assert approved_note("update_plan") and approved_note("write_file") == ""


def test_pending_calls_are_those_of_the_last_assistant_message_without_a_result():
    first, second = call("read_file"), call("list_files")
    messages = [
        ChatMessage("user", "go"),
        ChatMessage("assistant", "", [first, second]),
        ChatMessage("tool", "ok", tool_call_id=first.id, tool_name=first.name),
    ]
    assert pending_calls(messages) == [second]
    assert pending_calls(messages[:1]) == []


def test_a_pause_polls_until_its_deadline_and_checks_at_once_past_it():
    assert next_check_after(None) == APPROVAL_POLL_SECONDS
    assert next_check_after(APPROVAL_POLL_SECONDS * 10) == APPROVAL_POLL_SECONDS
    assert next_check_after(APPROVAL_POLL_SECONDS / 4) == APPROVAL_POLL_SECONDS / 4
    assert next_check_after(-1) == 0
