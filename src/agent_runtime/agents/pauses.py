"""A run's pauses: for the approval of a dangerous call or of its plan, and
for the result of a client-side tool. Each is stored with the task's
`waiting_approval` status in one write, told as events, and waited for with
the run slot freed; an unanswered one expires after APPROVAL_TIMEOUT_SECONDS."""

from __future__ import annotations

import datetime as dt
from typing import Any, Awaitable, Callable

from agent_runtime.agents import run_events
from agent_runtime.agents.approvals import ApprovalManager
from agent_runtime.agents.convert import approval_dict
from agent_runtime.agents.leases import RunLeases
from agent_runtime.agents.models import (
    ANSWER,
    FAILED,
    PAUSE,
    PENDING,
    RESUME,
    RUNNING,
    WAITING_APPROVAL,
    ApprovalRecord,
    ClientCallRecord,
    LeaseLost,
    TaskRecord,
)
from agent_runtime.agents.ports import AgentStore, run_lease
from agent_runtime.agents.reporter import RunReporter
from agent_runtime.agents.run_end import RunEnded
from agent_runtime.agents.run_table import RunTable
from agent_runtime.clock import Clock, iso, parse_iso
from agent_runtime.llm.base import ToolCall
from agent_runtime.tools.base import ToolOutcome

# How often a waiting run rereads what it waits for (decisions from another
# process); decisions in this process wake it at once.
APPROVAL_POLL_SECONDS = 2.0
# What a paused run waits for (`waiting_for` of its `waiting_approval`
# status event; the codelab stream's `done` says `waiting_<it>`).
WAITING_FOR_APPROVAL = "approval"
WAITING_FOR_PLAN = "plan_approval"
WAITING_FOR_TOOL_RESULT = "tool_result"


def expired_call_result(timeout: float) -> str:
    """What the model reads of a client tool call that expired unanswered."""
    return f"The client returned no result within {timeout:g} s (APPROVAL_TIMEOUT_SECONDS); the call expired"


def next_check_after(remaining: float | None) -> float:
    """Seconds until a pause checks again, with `remaining` seconds to its
    deadline (None: no deadline); 0 once it passed."""
    if remaining is None:
        return APPROVAL_POLL_SECONDS
    return max(0.0, min(APPROVAL_POLL_SECONDS, remaining))


class RunPauses:
    def __init__(
        self,
        store: AgentStore,
        approvals: ApprovalManager,
        reporter: RunReporter,
        table: RunTable,
        leases: RunLeases,
        *,
        timeout_seconds: float,
        clock: Clock,
    ):
        self._store = store
        self._leases = leases
        self._approvals = approvals
        self._reporter = reporter
        self._table = table
        self._timeout = timeout_seconds
        self._clock = clock

    async def approval(self, task: TaskRecord, call: ToolCall, *, plan: bool) -> ApprovalRecord:
        """Asks for (or, resumed, finds) the call's approval and waits for
        its decision; expiry rejects it."""
        if plan:
            reason = "The plan needs the user's approval before the agent carries it out"
        else:
            reason = f"{call.name} is in HITL_DANGEROUS_TOOLS and needs approval"
        approval, created, paused = await self._approvals.request(task, call, reason)
        if approval.status != PENDING:
            return approval
        if created:
            required = run_events.PlanApprovalRequired if plan else run_events.ApprovalRequired
            await self._reporter.emit(task.task_id, required(approval=approval_dict(approval), tool=call.name, input=call.arguments, call_id=call.id))

        async def decided() -> tuple[ApprovalRecord | None, float]:
            current = await self._store.approvals.get_approval(approval.approval_id)
            if current is None:
                raise RunEnded(FAILED, "The approval disappeared", "INTERNAL_ERROR")
            if current.status != PENDING:
                return current, 0
            deadline = parse_iso(current.expires_at) if current.expires_at else None
            return None, await self._next_check(deadline, lambda: self._approvals.expire(current))

        if paused:
            await self._tell_waiting(task, call, f"Waiting for approval of {call.name}", WAITING_FOR_PLAN if plan else WAITING_FOR_APPROVAL)
        if created:
            # Logged once the run shows as waiting: whoever reads the log
            # (or the pending list) finds the task paused.
            await self._approvals.announce(task.session_id, approval)
        decided_approval = await self._wait(task, decided)
        await self._reporter.set_status(task.task_id, RUNNING, f"Approval {decided_approval.status}", only_if=(WAITING_APPROVAL, "queued"))
        return decided_approval

    async def client_call(self, task: TaskRecord, call: ToolCall) -> ToolOutcome:
        """A call of a client-side tool: told as a `tool_call` event with
        `client_side`, then the run waits (persisted) for the client's
        `tool_result` message, which is the model's tool result."""
        calls = self._store.client_calls
        proposed = ClientCallRecord(task.task_id, call.id, call.name, call.arguments, PENDING, self._reporter.now())
        stored, created, paused = await calls.create_client_call(proposed, PAUSE, proposed.created_at)
        if created:
            await self._reporter.tool_call(task, call, call.arguments, client_side=True)
        timeout = self._timeout

        async def answered() -> tuple[ClientCallRecord | None, float]:
            current = await calls.get_client_call(task.task_id, call.id)
            if current is None:
                raise RunEnded(FAILED, "The client tool call disappeared", "INTERNAL_ERROR")
            if current.status != PENDING:
                return current, 0
            deadline = parse_iso(current.created_at) + dt.timedelta(seconds=timeout) if timeout > 0 else None
            # As an unanswered approval expires: the model hears why, and a
            # late result is refused.
            return None, await self._next_check(deadline, lambda: self._expire_call(current))

        if paused:
            await self._tell_waiting(task, call, f"Waiting for the client's result of {call.name}", WAITING_FOR_TOOL_RESULT)
        if stored.status == PENDING:
            stored = await self._wait(task, answered)
            await self._reporter.set_status(task.task_id, RUNNING, f"The client answered {call.name}", only_if=(WAITING_APPROVAL, "queued"))
        outcome = ToolOutcome(stored.result or "", success=not stored.is_error)
        await self._reporter.tool_result(task, call, outcome, logged_input=call.arguments, client_side=True)
        return outcome

    async def expire_overdue(self) -> None:
        """Expires the approvals and client calls that are past
        APPROVAL_TIMEOUT_SECONDS, whether their waiter still lives or its
        process died: each expiry makes its task runnable, and a claim
        resumes the run."""
        if self._timeout <= 0:
            return
        now = self._clock()
        for approval in await self._store.approvals.overdue_approvals(iso(now)):
            await self._approvals.expire(approval)
        for call in await self._store.client_calls.pending_client_calls(iso(now - dt.timedelta(seconds=self._timeout))):
            await self._expire_call(call)

    async def _expire_call(self, call: ClientCallRecord) -> bool:
        return await self._store.client_calls.answer_client_call(
            call.task_id, call.call_id, expired_call_result(self._timeout), True, self._reporter.now(), transition=ANSWER, resume=RESUME
        )

    async def _next_check(self, deadline: dt.datetime | None, expire: Callable[[], Awaitable[Any]]) -> float:
        """Seconds until a pause checks again on what it waits for, pending
        until `deadline` (None: none); past it, `expire()` ends the wait and
        the check follows at once."""
        wait = next_check_after(None if deadline is None else (deadline - self._clock()).total_seconds())
        if deadline is not None and wait <= 0:
            await expire()
        return wait

    async def _tell_waiting(self, task: TaskRecord, call: ToolCall, message: str, waiting_for: str) -> None:
        """The event of the task's new `waiting_approval` status; it says
        what for."""
        await self._reporter.emit(task.task_id, run_events.Status(status=WAITING_APPROVAL, message=message, waiting_for=waiting_for, call_id=call.id))

    async def _wait(self, task: TaskRecord, check):
        """Waits holding no lease: the decision or answer (on any process)
        makes the task runnable, and whichever process claims it first goes
        on; when that is another one, this run ends here."""
        async def queued() -> None:
            await self._reporter.set_status(task.task_id, "queued", "Waiting for a free run slot", only_if=(WAITING_APPROVAL,))

        await self._leases.release(task.task_id)
        run_lease.set(None)
        value = await self._table.pause(task.task_id, check, queued)
        lease = await self._leases.claim(task.task_id)
        if lease is None:
            raise LeaseLost(task.task_id)
        run_lease.set(lease)
        return value
