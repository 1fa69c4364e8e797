"""Which tools a run may call and what becomes of a call, as pure functions
of the agent type, the session's settings and the call: the turn loop asks,
these answer, nothing here waits or writes."""

from __future__ import annotations

import dataclasses
from typing import Any

from agent_runtime.agents.approvals import PLAN_TOOL
from agent_runtime.agents.catalog import AGENT_TYPES_BY_NAME, AgentType
from agent_runtime.agents.models import EXPIRED, STOPPED, ApprovalRecord
from agent_runtime.agents.run_end import RunEnded
from agent_runtime.agents.switching import SWITCH_TOOL
from agent_runtime.llm.base import ChatMessage, ToolCall, ToolSpec

SYSTEM_PROMPT = """You are {name}, an AI software engineer working in the project directory {root}.
Use the tools to inspect and change the project. Paths are relative to the project root.
Keep a short plan with update_plan and mark steps as you finish them.
When the task is done, answer with a short summary of what you did and no tool calls.
Restrictions: {restrictions}"""

# Before the user approved a plan (sessions with require_plan_approval), a
# run may only look around, plan and hand over.
PLAN_FREE_TOOLS = frozenset({"read_file", "list_files", "search_in_code", "git_diff", PLAN_TOOL, SWITCH_TOOL})

SWITCH_SPEC = ToolSpec(
    SWITCH_TOOL,
    "Hand the conversation to the agent best suited for the request: coder (writes and runs code), "
    "architect (designs; writes only .md files), debug (finds causes; read-only, may run commands), "
    "ask (explains; read-only). Give the reason for the switch.",
    {
        "type": "object",
        "properties": {
            "agent_type": {"type": "string", "enum": [a for a in AGENT_TYPES_BY_NAME if a != "orchestrator"]},
            "reason": {"type": "string", "description": "Why this agent fits the request."},
        },
        "required": ["agent_type", "reason"],
    },
)


def _agent(agent_type: str) -> AgentType:
    return AGENT_TYPES_BY_NAME.get(agent_type) or AGENT_TYPES_BY_NAME["coder"]


def tools_for(agent_type: str, requested: list[str], *, can_switch: bool = False) -> list[str]:
    """The tools a turn of `agent_type` may call: its documented set (narrowed
    to `requested` when given) plus update_plan, and for the orchestrator
    `switch_agent` when automatic switching is on."""
    agent = _agent(agent_type)
    names = [*agent.tools, "update_plan"]
    chosen = [n for n in requested if n in names] or names
    if can_switch and agent.type == "orchestrator":
        chosen.append(SWITCH_TOOL)
    return chosen


def invalid_tool(agent_type: str, name: str, arguments: dict[str, Any], allowed: list[str]) -> str | None:
    """Why `agent_type` may not make this call (INVALID_TOOL), or None: a tool
    outside its set, or (architect) a write to anything but a `.md` file."""
    agent = _agent(agent_type)
    if name not in allowed:
        return f"INVALID_TOOL: {agent.name} cannot use {name!r}; its tools: {', '.join(allowed)}"
    if agent.type == "architect" and name == "write_file":
        path = arguments.get("path")
        if not isinstance(path, str) or not path.lower().endswith(".md"):
            return f"INVALID_TOOL: {agent.name} may write only .md files, not {path!r}"
    return None


def refusal_code(refusal: str) -> str:
    """The code a refusal starts with (`INVALID_TOOL: …`)."""
    return refusal.split(":", 1)[0]


def system_prompt(agent_type: str, root: str) -> str:
    agent = _agent(agent_type)
    return SYSTEM_PROMPT.format(name=agent.name, root=root, restrictions="; ".join(agent.restrictions) or "none")


def pending_calls(messages: list[ChatMessage]) -> list[ToolCall]:
    """Tool calls of the last assistant message that have no result yet."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.role == "assistant":
            answered = {m.tool_call_id for m in messages[index + 1 :] if m.role == "tool"}
            return [call for call in message.tool_calls if call.id not in answered]
    return []


@dataclasses.dataclass(frozen=True)
class CallRoute:
    """Where a call goes before it may run: refused (`refusal`, the model
    reads it), or to the handler it needs."""

    refusal: str | None = None
    switch: bool = False
    client_side: bool = False
    needs_approval: bool = False


def route_call(
    agent_type: str,
    call: ToolCall,
    allowed: list[str],
    *,
    plan_gate: bool,
    client_tools: set[str],
    dangerous_tools: frozenset[str] | set[str] | tuple[str, ...],
) -> CallRoute:
    """How a call is handled. `plan_gate`: the session needs an approved
    plan and has none yet, so only PLAN_FREE_TOOLS run, and the plan itself
    waits for approval."""
    refusal = invalid_tool(agent_type, call.name, call.arguments, allowed)
    if refusal is None and plan_gate and call.name not in PLAN_FREE_TOOLS:
        refusal = f"PLAN_NOT_APPROVED: propose your plan with {PLAN_TOOL} first; {call.name} may run only after the user approved it"
    if refusal is not None:
        return CallRoute(refusal=refusal)
    if call.name == SWITCH_TOOL:
        return CallRoute(switch=True)
    if call.name in client_tools:
        return CallRoute(client_side=True)
    return CallRoute(needs_approval=call.name in dangerous_tools or (plan_gate and call.name == PLAN_TOOL))


def rejection_output(call_name: str, approval: ApprovalRecord) -> str:
    """What the model reads for a call the user rejected (or let expire).
    A plan rejected without feedback, or expired, ends the run: there is
    nothing to re-plan with and nobody approved the work."""
    if call_name == PLAN_TOOL and (approval.status == EXPIRED or not approval.feedback):
        raise RunEnded(STOPPED, "The plan's approval expired" if approval.status == EXPIRED else "The user rejected the plan", "PLAN_REJECTED")
    why = approval.feedback or ("the approval expired" if approval.status == EXPIRED else "no reason given")
    output = f"The user rejected this {call_name} call: {why}"
    if call_name == PLAN_TOOL:
        output += f". Make a new plan that addresses this and propose it with {PLAN_TOOL}."
    return output


def approved_note(call_name: str) -> str:
    """Added to an approved call's output: an approved plan is the go-ahead."""
    return " The user approved this plan: carry it out." if call_name == PLAN_TOOL else ""
