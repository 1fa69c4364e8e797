"""The run-event vocabulary: every event an agent run emits, one dataclass
each. The runner builds them, storage keeps their `body` (JSON, the
TaskEvent message's field names), the services read them back with
`parse`, and the WebSocket bridge prints each type's documented fields.

| type | fields |
| --- | --- |
| `status` | `status`, `message`; a paused run adds `waiting_for` (`approval`, `plan_approval`, `tool_result`) and `call_id` |
| `token` | `content`: streamed model text |
| `tool_call` | `tool`, `input`, `call_id`; `client_side` for a tool the client runs |
| `tool_result` | `tool`, `output`, `success`, `call_id`; `code` (`INVALID_TOOL`, `TOOL_EXECUTION_FAILED`, `PLAN_NOT_APPROVED`, …) and `client_side` when they apply |
| `plan_update` | `plan`: `{"steps": [...]}` |
| `error` | `error`, `code` (e.g. `MAX_ITERATIONS_REACHED`) |
| `approval_required` | `approval` (the ToolApproval), `tool`, `input`, `call_id` |
| `plan_approval_required` | the same, for the plan of `update_plan` |
| `agent_switched` | `from_agent`, `to_agent`, `reason`, `call_id` |

Every stored body also has `type`, `task_id` and `timestamp`; storage adds
the `sequence`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from agent_runtime.agents.models import TERMINAL_STATUSES, TaskEventRecord


@dataclasses.dataclass(frozen=True)
class RunEvent:
    TYPE: ClassVar[str]
    # The fields the mini-devin document shows on /ws/tasks/{id} besides
    # type, sequence, task_id and timestamp; types it does not know go out
    # with those four only.
    DOCUMENTED: ClassVar[tuple[str, ...]] = ()

    def fields(self) -> dict[str, Any]:
        """The event's fields in body order; optional ones (default None)
        only when set."""
        values = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None and field.default is None:
                continue
            values[field.name] = value
        return values

    def body(self, task_id: str, timestamp: str) -> dict[str, Any]:
        return {"type": self.TYPE, "task_id": task_id, "timestamp": timestamp, **self.fields()}


@dataclasses.dataclass(frozen=True)
class Status(RunEvent):
    TYPE = "status"
    DOCUMENTED = ("status", "message")
    status: str = ""
    message: str = ""
    waiting_for: str | None = None
    call_id: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclasses.dataclass(frozen=True)
class Token(RunEvent):
    TYPE = "token"
    DOCUMENTED = ("content",)
    content: str = ""


@dataclasses.dataclass(frozen=True)
class ToolCallEvent(RunEvent):
    TYPE = "tool_call"
    DOCUMENTED = ("tool", "input", "call_id")
    tool: str = ""
    input: dict[str, Any] = dataclasses.field(default_factory=dict)
    call_id: str = ""
    client_side: bool | None = None


@dataclasses.dataclass(frozen=True)
class ToolResult(RunEvent):
    TYPE = "tool_result"
    DOCUMENTED = ("tool", "output", "success", "call_id")
    tool: str = ""
    output: str = ""
    success: bool = False
    call_id: str = ""
    code: str | None = None
    client_side: bool | None = None


@dataclasses.dataclass(frozen=True)
class PlanUpdate(RunEvent):
    TYPE = "plan_update"
    DOCUMENTED = ("plan",)
    plan: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Error(RunEvent):
    TYPE = "error"
    DOCUMENTED = ("error", "code")
    error: str = ""
    code: str = "ERROR"


@dataclasses.dataclass(frozen=True)
class ApprovalRequired(RunEvent):
    TYPE = "approval_required"
    DOCUMENTED = ("approval", "tool", "input", "call_id")
    approval: dict[str, Any] = dataclasses.field(default_factory=dict)
    tool: str = ""
    input: dict[str, Any] = dataclasses.field(default_factory=dict)
    call_id: str = ""


@dataclasses.dataclass(frozen=True)
class PlanApprovalRequired(ApprovalRequired):
    TYPE = "plan_approval_required"
    DOCUMENTED = ()


@dataclasses.dataclass(frozen=True)
class AgentSwitched(RunEvent):
    TYPE = "agent_switched"
    from_agent: str = ""
    to_agent: str = ""
    reason: str = ""
    call_id: str | None = None


RUN_EVENT_TYPES: dict[str, type[RunEvent]] = {
    cls.TYPE: cls for cls in (Status, Token, ToolCallEvent, ToolResult, PlanUpdate, Error, ApprovalRequired, PlanApprovalRequired, AgentSwitched)
}


def parse(record: TaskEventRecord) -> RunEvent | None:
    """The typed event of a stored one (None for a type this version does
    not know); fields missing from older bodies take their defaults."""
    cls = RUN_EVENT_TYPES.get(record.type)
    if cls is None:
        return None
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{name: value for name, value in record.body.items() if name in names})


def is_terminal(record: TaskEventRecord) -> bool:
    """Whether the event is the run's final `status` (completed, failed or
    stopped)."""
    event = parse(record)
    return isinstance(event, Status) and event.terminal
