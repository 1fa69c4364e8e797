"""Plain records of the agent domain (tasks, approvals, client tool calls,
artifacts, multi-agent sessions) and its status rules; the servicer converts
them to protos, the ports (agents/ports.py) store them."""

from __future__ import annotations

import dataclasses
from typing import Any

ACCEPTED = "accepted"
QUEUED = "queued"
RUNNING = "running"
WAITING_APPROVAL = "waiting_approval"
COMPLETED = "completed"
FAILED = "failed"
STOPPED = "stopped"
ACTIVE_STATUSES = (ACCEPTED, QUEUED, RUNNING, WAITING_APPROVAL)
# What a process may claim and run: active and not paused (a paused run
# waits for a decision or an answer and holds no lease).
RUNNABLE_STATUSES = (ACCEPTED, QUEUED, RUNNING)
TERMINAL_STATUSES = (COMPLETED, FAILED, STOPPED)

PENDING = "pending"
APPROVED = "approved"
EDITED = "edited"
REJECTED = "rejected"
EXPIRED = "expired"
DECISIONS = {"approve": APPROVED, "edit": EDITED, "reject": REJECTED}
# A plan is approved or rejected; editing it is `edit` on its approval.
PLAN_DECISIONS = ("approve", "reject")
ANSWERED = "answered"


@dataclasses.dataclass(frozen=True)
class StatusChange:
    """A status transition, applied by a store only from `from_statuses`
    and in the same transaction as the write it goes with, so that no
    reader (and no restart) sees one without the other."""

    from_statuses: tuple[str, ...]
    to: str


# A pending approval or client tool call pauses its running task.
PAUSE = StatusChange((RUNNING,), WAITING_APPROVAL)
# A client tool call is answered once, while it waits.
ANSWER = StatusChange((PENDING,), ANSWERED)
# A decision or an answer makes its paused task runnable again, in the same
# transaction, so whichever process claims it first continues the run.
RESUME = StatusChange((WAITING_APPROVAL,), QUEUED)


@dataclasses.dataclass(frozen=True)
class RunLease:
    """A process's claim on running a task: its instance id, and the epoch
    the claim gave (each claim bumps it)."""

    task_id: str
    owner: str
    epoch: int
    # Whether a stop was asked of the run, as a renewal read it (the
    # holder's fallback for a stop whose notification it missed).
    stop_requested: bool = dataclasses.field(default=False, compare=False)


class LeaseLost(Exception):
    """A write of a run whose lease is no longer its own (expired and
    claimed by another process, or released): refused, and the run ends
    here without writing anything more. Not a DomainError: the run must
    not end `failed` for it."""

    def __init__(self, task_id: str):
        super().__init__(f"the lease of task {task_id} moved on")
        self.task_id = task_id


@dataclasses.dataclass
class TaskRecord:
    task_id: str
    session_id: str
    owner: str
    description: str
    working_directory: str
    status: str
    max_iterations: int
    created_at: str
    updated_at: str
    model: str = ""
    run_mode: str = ""
    agent_type: str = "coder"
    tools: list[str] = dataclasses.field(default_factory=list)
    context: dict[str, str] = dataclasses.field(default_factory=dict)
    base_commit: str | None = None
    iterations: int = 0
    plan: list[dict[str, str]] | None = None
    result_success: bool | None = None
    result_summary: str | None = None
    error_code: str | None = None
    stop_requested: bool = False
    last_event_sequence: int = 0
    completed_at: str | None = None


@dataclasses.dataclass
class ApprovalRecord:
    approval_id: str
    task_id: str
    owner: str
    call_id: str
    tool_name: str
    arguments: dict[str, Any]
    reason: str
    status: str
    created_at: str
    decision: str = ""
    modified_arguments: dict[str, Any] | None = None
    feedback: str = ""
    expires_at: str | None = None
    resolved_at: str | None = None


@dataclasses.dataclass
class ArtifactRecord:
    artifact_id: str
    task_id: str
    name: str
    type: str
    content_type: str
    size: int
    created_at: str
    content: bytes = b""


@dataclasses.dataclass
class TaskEventRecord:
    """One run event: `body` holds the TaskEvent fields in JSON form."""

    task_id: str
    sequence: int
    type: str
    body: dict[str, Any]


@dataclasses.dataclass
class ClientTool:
    """A tool a codelab session's client (the IDE) runs itself: offered to
    the model like a built-in one; a call waits for the client's
    `tool_result` message."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclasses.dataclass
class HitlSettings:
    """What a codelab session asked for at creation."""

    client_tools: list[ClientTool] = dataclasses.field(default_factory=list)
    require_plan_approval: bool = False


@dataclasses.dataclass
class ClientCallRecord:
    """A call of a client tool; `pending` until the client's result came."""

    task_id: str
    call_id: str
    tool_name: str
    arguments: dict[str, Any]
    status: str
    created_at: str
    result: str | None = None
    is_error: bool = False
    answered_at: str | None = None


@dataclasses.dataclass
class AgentSwitchRecord:
    from_agent: str
    to_agent: str
    reason: str
    timestamp: str
    task_id: str | None = None


@dataclasses.dataclass
class SessionAgentRecord:
    """A multi-agent session's current agent and its switch history."""

    session_id: str
    current_agent: str
    previous_agent: str | None
    switched_at: str | None
    switch_count: int
    history: list[AgentSwitchRecord]


class SwitchLimitReached(Exception):
    """The session already made the most switches it may."""
