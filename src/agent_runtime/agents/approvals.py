"""Approvals of tool calls and plans (codelab "Unified Approval System"):
asking for one, deciding it once, expiring and auto-rejecting it. Every
change is stored first, then told as an `approval.requested`,
`approval.approved` or `approval.rejected` event in the session's event log,
whose append publishes it on the session event bus (`/sessions/{id}/events`,
`/ws`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import structlog

from agent_runtime.agents.models import DECISIONS, EDITED, EXPIRED, PAUSE, PENDING, REJECTED, RESUME, ApprovalRecord, TaskRecord
from agent_runtime.clock import Clock, iso, utc_now
from agent_runtime.errors import Conflict, DomainError, InvalidArgument, NotFound
from agent_runtime.llm.base import ToolCall
from agent_runtime.sessions.models import NewEvent
from agent_runtime.sessions.service import SessionService
from agent_runtime.agents.ports import AgentStore

log = structlog.get_logger(__name__)

APPROVAL_REQUESTED = "approval.requested"
APPROVAL_APPROVED = "approval.approved"
APPROVAL_REJECTED = "approval.rejected"
PLAN_TOOL = "update_plan"


def approval_resolved(approval_id: str, status: str = "") -> Conflict:
    return Conflict(
        f"Approval {approval_id} was already resolved{f' ({status})' if status else ''}; decisions cannot change",
        code="APPROVAL_RESOLVED",
    )


def check_decision(decision: str, modified_arguments: dict[str, Any] | None, *, allowed: tuple[str, ...] = tuple(DECISIONS)) -> None:
    if decision not in allowed:
        raise InvalidArgument(f"decision must be one of {', '.join(allowed)}; got {decision!r}", code="INVALID_DECISION")
    if decision == "edit" and not modified_arguments:
        raise InvalidArgument("an edit decision needs modified_arguments: the arguments the tool should run with", code="INVALID_DECISION")


class ApprovalManager:
    def __init__(self, store: AgentStore, sessions: SessionService, *, timeout_seconds: float = 0.0, clock: Clock = utc_now):
        self._repo = store.approvals
        self._tasks = store.tasks
        self._sessions = sessions
        self._timeout = timeout_seconds
        self._clock = clock

    async def request(self, task: TaskRecord, call: ToolCall, reason: str) -> tuple[ApprovalRecord, bool, bool]:
        """The approval of `call`, created pending unless it exists (a
        resumed run); while pending, its task is `waiting_approval`. The
        flags: whether the approval is new, and whether the task was paused
        just now. The caller `announce`s a new one."""
        now = self._clock()
        proposed = ApprovalRecord(
            approval_id=str(uuid.uuid4()),
            task_id=task.task_id,
            owner=task.owner,
            call_id=call.id,
            tool_name=call.name,
            arguments=call.arguments,
            reason=reason,
            status=PENDING,
            created_at=iso(now),
            expires_at=iso(now + dt.timedelta(seconds=self._timeout)) if self._timeout > 0 else None,
        )
        approval, paused = await self._repo.create_approval(proposed, PAUSE, iso(now))
        return approval, approval.approval_id == proposed.approval_id, paused

    async def announce(self, session_id: str, approval: ApprovalRecord) -> None:
        await self._log(session_id, APPROVAL_REQUESTED, approval)

    async def decide(
        self,
        approval: ApprovalRecord,
        decision: str,
        modified_arguments: dict[str, Any] | None,
        feedback: str,
        *,
        session_id: str | None = None,
    ) -> ApprovalRecord:
        """Decides a pending approval once; Conflict when it was decided.
        `session_id`: its task's session, when the caller knows it."""
        check_decision(decision, modified_arguments)
        if approval.status != PENDING:
            raise approval_resolved(approval.approval_id, approval.status)
        changes: dict[str, Any] = {
            "status": DECISIONS[decision],
            "decision": decision,
            "feedback": feedback,
            "resolved_at": iso(self._clock()),
        }
        if decision == "edit":
            changes["modified_arguments"] = modified_arguments
        return await self._resolve(approval, changes, session_id)

    async def expire(self, approval: ApprovalRecord) -> ApprovalRecord | None:
        return await self._resolve_quietly(approval, EXPIRED, "approval expired before anyone decided")

    async def reject_pending(self, task_id: str, why: str) -> None:
        """Rejects what a run that ends leaves pending."""
        for approval in await self._repo.list_approvals(task_id, PENDING):
            await self._resolve_quietly(approval, REJECTED, f"auto-rejected: {why}")

    async def find_in_session(self, session_id: str, call_id: str) -> ApprovalRecord:
        """The approval of tool call `call_id` in the session (its newest,
        should a model reuse an id across runs)."""
        found = await self._repo.session_approvals(session_id, call_id=call_id)
        if not found:
            raise NotFound(f"No approval for call_id {call_id!r} in session {session_id}", code="APPROVAL_NOT_FOUND")
        pending = [a for a in found if a.status == PENDING]
        return (pending or found)[-1]

    async def to_decide(self, session_id: str, call_id: str, *, plan_only: bool) -> ApprovalRecord:
        """The approval a codelab decision message answers: that of tool call
        `call_id`, or (`plan_only`, a `plan_decision`) the session's newest
        pending plan when no call_id is given."""
        if call_id:
            approval = await self.find_in_session(session_id, call_id)
            if plan_only and approval.tool_name != PLAN_TOOL:
                raise InvalidArgument(
                    f"call_id {call_id} is a {approval.tool_name} call, not a plan; decide it with a hitl_decision", code="INVALID_DECISION"
                )
            return approval
        if not plan_only:
            raise InvalidArgument("call_id is required: the tool call to decide (see GET /sessions/{session_id}/pending-approvals)")
        plans = [a for a in await self.pending_in_session(session_id) if a.tool_name == PLAN_TOOL]
        if not plans:
            raise NotFound(f"Session {session_id} has no plan waiting for approval", code="APPROVAL_NOT_FOUND")
        return plans[-1]

    async def pending_in_session(self, session_id: str) -> list[ApprovalRecord]:
        return await self._repo.session_approvals(session_id, PENDING)

    async def _resolve_quietly(self, approval: ApprovalRecord, status: str, feedback: str) -> ApprovalRecord | None:
        changes = {"status": status, "decision": "reject", "feedback": feedback, "resolved_at": iso(self._clock())}
        try:
            return await self._resolve(approval, changes)
        except Conflict:
            return None

    async def _resolve(self, approval: ApprovalRecord, changes: dict[str, Any], session_id: str | None = None) -> ApprovalRecord:
        resolved = await self._repo.resolve_approval(approval.approval_id, changes, only_if_status=PENDING, resume=RESUME)
        if resolved is None:
            raise approval_resolved(approval.approval_id)
        if session_id is None:
            task = await self._tasks.get_task(resolved.task_id)
            session_id = task.session_id if task is not None else None
        if session_id is not None:
            kind = APPROVAL_REJECTED if resolved.status in (REJECTED, EXPIRED) else APPROVAL_APPROVED
            await self._log(session_id, kind, resolved)
        return resolved

    async def _log(self, session_id: str, event_type: str, approval: ApprovalRecord) -> None:
        payload: dict[str, Any] = {
            "task_id": approval.task_id,
            "approval_id": approval.approval_id,
            "call_id": approval.call_id,
            "status": approval.status,
        }
        if approval.decision:
            payload["decision"] = approval.decision
        if approval.feedback:
            payload["feedback"] = approval.feedback
        if approval.status == EDITED:
            payload["modified_arguments"] = approval.modified_arguments
        body = {"tool_name": approval.tool_name, "tool_input": approval.arguments, "reason": approval.reason, "payload": payload}
        try:
            await self._sessions.append_event(session_id, NewEvent(event_type=event_type, timestamp=iso(self._clock()), body=body))
        except DomainError as error:
            # The decision stands; the log is its record, not its condition.
            log.warning("approval.log_failed", approval_id=approval.approval_id, error=error.detail)

