"""The codelab message stream's vocabulary: its message types, the client
tools a session may declare, and each run event as codelab stream events."""

from __future__ import annotations

import re
from typing import Any

from agent_runtime.agents import run_events
from agent_runtime.agents.models import COMPLETED, WAITING_APPROVAL, ClientTool, TaskEventRecord
from agent_runtime.agents.switching import SWITCH_TOOL
from agent_runtime.errors import ValidationFailed
from agent_runtime.tools.builtin import BUILTIN_TOOLS

MESSAGE_TYPES = ("user_message", "switch_agent", "hitl_decision", "plan_decision", "tool_result")
MAX_CLIENT_TOOLS = 32
MAX_TOOL_DESCRIPTION = 2000
# OpenAI's rule for function names, which every provider accepts.
TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


def check_client_tools(tools: list[ClientTool]) -> None:
    """Client tools are offered to the model beside the built-in ones:
    valid function names, none taken, each described, object parameters."""
    if len(tools) > MAX_CLIENT_TOOLS:
        raise ValidationFailed(f"at most {MAX_CLIENT_TOOLS} client_tools", fields={"client_tools": "too many"})
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        field = f"client_tools[{index}]"
        if not TOOL_NAME.match(tool.name):
            raise ValidationFailed(
                f"{field}.name must be 1-64 letters, digits, _ or -, starting with a letter or _; got {tool.name!r}",
                fields={f"{field}.name": "invalid"},
            )
        if tool.name in BUILTIN_TOOLS or tool.name == SWITCH_TOOL or tool.name in seen:
            raise ValidationFailed(
                f"{field}.name {tool.name!r} is taken (a built-in tool or another client tool)", fields={f"{field}.name": "taken"}
            )
        seen.add(tool.name)
        if not tool.description.strip() or len(tool.description) > MAX_TOOL_DESCRIPTION:
            raise ValidationFailed(
                f"{field}.description is required (at most {MAX_TOOL_DESCRIPTION} characters): the model reads it",
                fields={f"{field}.description": "required"},
            )
        if tool.parameters.get("type") != "object":
            raise ValidationFailed(
                f'{field}.parameters must be a JSON schema of type "object"', fields={f"{field}.parameters": "must be an object schema"}
            )


def stream_events(record: TaskEventRecord) -> list[dict[str, Any]]:
    """A run event as codelab stream events."""
    event = run_events.parse(record)
    task_id = record.task_id
    if isinstance(event, run_events.Token):
        return [{"type": "assistant_message", "token": event.content, "is_final": False, "task_id": task_id}]
    if isinstance(event, run_events.ToolCallEvent):
        call = {"type": "tool_call", "call_id": event.call_id, "tool_name": event.tool, "arguments": event.input or {}, "task_id": task_id}
        if event.client_side:
            call["client_side"] = True
        return [call]
    if isinstance(event, run_events.ToolResult):
        out = {
            "type": "tool_result",
            "call_id": event.call_id,
            "tool_name": event.tool,
            "result": event.output,
            "success": bool(event.success),
            "task_id": task_id,
        }
        if event.code:
            out["code"] = event.code
        return [out]
    if isinstance(event, run_events.AgentSwitched):
        return [{"type": "agent_switched", "from_agent": event.from_agent, "to_agent": event.to_agent, "reason": event.reason, "task_id": task_id}]
    if isinstance(event, run_events.ApprovalRequired):
        approval = event.approval or {}
        arguments = event.input or {}
        required = {
            "type": event.TYPE,
            "call_id": event.call_id,
            "tool_name": event.tool,
            "arguments": arguments,
            "reason": approval.get("reason", ""),
            "approval_id": approval.get("id", ""),
            "task_id": task_id,
        }
        if isinstance(event, run_events.PlanApprovalRequired):
            required["plan"] = {"steps": plan_steps(arguments.get("steps"))}
        return [required]
    if isinstance(event, run_events.Status) and event.status == WAITING_APPROVAL:
        # The run paused: this stream ends; the answer continues it.
        paused = {"type": "done", "status": f"waiting_{event.waiting_for or 'approval'}", "task_id": task_id}
        if event.call_id:
            paused["call_id"] = event.call_id
        return [paused]
    if isinstance(event, run_events.Error):
        return [{"type": "error", "error": event.error, "code": event.code, "task_id": task_id}]
    if isinstance(event, run_events.Status) and event.terminal:
        ended = [{"type": "done", "status": event.status, "task_id": task_id}]
        if event.status == COMPLETED:
            ended.insert(0, {"type": "assistant_message", "token": "", "is_final": True, "task_id": task_id})
        return ended
    return []


def plan_steps(steps: Any) -> list[dict[str, str]]:
    """The proposed steps as PlanStep JSON; update_plan numbers steps
    without id and starts them `pending` the same way."""
    if not isinstance(steps, list):
        return []
    return [
        {"id": str(step.get("id") or f"step-{index}"), "description": str(step.get("description", "")), "status": str(step.get("status") or "pending")}
        for index, step in enumerate(steps, 1)
        if isinstance(step, dict)
    ]

