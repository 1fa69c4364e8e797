"""The agent domain's repository ports, one per concern; storage adapters
(storage/sqlite/agents/…) implement them, `tests/contract/test_agent_store.py`
is the contract every adapter passes. Records are in agents/models.py."""

from __future__ import annotations

import contextvars
import datetime as dt
import dataclasses
from typing import Any, Protocol

from agent_runtime.agents.models import (
    AgentSwitchRecord,
    ApprovalRecord,
    ArtifactRecord,
    ClientCallRecord,
    HitlSettings,
    RunLease,
    SessionAgentRecord,
    StatusChange,
    TaskEventRecord,
    TaskRecord,
)
from agent_runtime.sessions.models import AppendGuard


class TaskRepository(Protocol):
    """Tasks with their conversation, run events and queued user input."""

    async def create_task(self, task: TaskRecord, messages: list[dict[str, Any]]) -> None: ...
    async def get_task(self, task_id: str) -> TaskRecord | None: ...
    async def list_tasks(self, session_id: str) -> list[TaskRecord]: ...
    async def task_counts(self) -> dict[str, int]: ...
    async def tasks_with_status(self, statuses: tuple[str, ...]) -> list[TaskRecord]: ...
    async def update_task(self, task_id: str, changes: dict[str, Any], *, only_if_status: tuple[str, ...] = ()) -> bool: ...
    def lease_guard(self, task_id: str) -> AppendGuard | None:
        """The fence of the current run's lease of `task_id` (run_lease) as
        a check in another domain's write: the session log's copies of the
        run's steps. None when no lease of it is set."""

    async def append_messages(self, task_id: str, messages: list[dict[str, Any]]) -> None: ...
    async def list_messages(self, task_id: str) -> list[dict[str, Any]]: ...
    async def append_event(self, task_id: str, type: str, body: dict[str, Any], now: str) -> TaskEventRecord | None: ...
    async def list_events(self, task_id: str, after_sequence: int, limit: int) -> list[TaskEventRecord]: ...
    async def started_calls(self, task_id: str) -> set[str]: ...
    async def add_input(self, task_id: str, content: str, now: str) -> None: ...
    async def take_inputs(self, task_id: str) -> list[str]: ...


# The lease of the run the current asyncio task drives (set by the runner).
# Every adapter write of that task's rows (the task, its conversation,
# events, inputs, approvals, client calls, artifacts) checks it in its
# transaction and raises LeaseLost when the task's owner or epoch differ:
# a process that lost its lease cannot write. Writes of other tasks, and
# writes with no lease set (a client's decision), are not fenced.
run_lease: contextvars.ContextVar[RunLease | None] = contextvars.ContextVar("run_lease", default=None)


class LeaseRepository(Protocol):
    """Who runs which task: claims, renewals and releases of run leases.
    Times are ISO strings; a lease whose expiry is before `now` is free."""

    async def claim_runnable(
        self,
        owner: str,
        now: str,
        expires_at: str,
        *,
        statuses: tuple[str, ...],
        limit: int,
        exclude: tuple[str, ...] = (),
        per_user: int | None = None,
    ) -> list[RunLease]: ...
    async def claim_task(self, task_id: str, owner: str, now: str, expires_at: str, *, statuses: tuple[str, ...]) -> RunLease | None: ...
    async def database_time(self) -> dt.datetime:
        """The database's clock: the one clock lease times are read from."""
    async def renew(self, owner: str, task_ids: tuple[str, ...], expires_at: str) -> list[RunLease]: ...
    async def release(self, lease: RunLease) -> bool: ...
    async def release_all(self, owner: str) -> int: ...


class ApprovalRepository(Protocol):
    async def create_approval(self, approval: ApprovalRecord, pause: StatusChange, now: str) -> tuple[ApprovalRecord, bool]: ...
    async def get_approval(self, approval_id: str) -> ApprovalRecord | None: ...
    async def list_approvals(self, task_id: str, status: str = "") -> list[ApprovalRecord]: ...
    async def resolve_approval(
        self, approval_id: str, changes: dict[str, Any], *, only_if_status: str, resume: StatusChange | None = None
    ) -> ApprovalRecord | None: ...
    async def session_approvals(self, session_id: str, status: str = "", call_id: str = "") -> list[ApprovalRecord]: ...
    async def overdue_approvals(self, now: str) -> list[ApprovalRecord]: ...


class ClientCallRepository(Protocol):
    async def create_client_call(self, call: ClientCallRecord, pause: StatusChange, now: str) -> tuple[ClientCallRecord, bool, bool]: ...
    async def get_client_call(self, task_id: str, call_id: str) -> ClientCallRecord | None: ...
    async def session_client_calls(self, session_id: str, call_id: str = "") -> list[ClientCallRecord]: ...
    async def pending_client_calls(self, created_before: str) -> list[ClientCallRecord]: ...
    async def answer_client_call(
        self, task_id: str, call_id: str, result: str, is_error: bool, now: str, *, transition: StatusChange, resume: StatusChange | None = None
    ) -> bool: ...


class ArtifactRepository(Protocol):
    async def put_artifact(self, artifact: ArtifactRecord) -> None: ...
    async def list_artifacts(self, task_id: str) -> list[ArtifactRecord]: ...
    async def get_artifact(self, task_id: str, id_or_name: str) -> ArtifactRecord | None: ...


class IdempotencyRepository(Protocol):
    async def get_idempotent(self, owner: str, scope: str, key: str, not_before: str) -> tuple[str, bytes] | None: ...
    async def put_idempotent(self, owner: str, scope: str, key: str, request_hash: str, response: bytes, now: str) -> None: ...
    async def purge_idempotent(self, before: str) -> int: ...


class AgentSwitchRepository(Protocol):
    """Multi-agent sessions: the current agent, its switches, and the codelab
    session profile (user, metadata, HITL settings)."""

    async def get(self, session_id: str) -> SessionAgentRecord | None: ...
    async def switch(self, session_id: str, default_agent: str, switch: AgentSwitchRecord, max_switches: int) -> SessionAgentRecord: ...
    async def put_profile(self, session_id: str, user_id: str, metadata: dict[str, Any], hitl: HitlSettings | None = None) -> None: ...
    async def get_profile(self, session_id: str) -> tuple[str, dict[str, Any]] | None: ...
    async def get_hitl_settings(self, session_id: str) -> HitlSettings: ...


@dataclasses.dataclass(frozen=True)
class AgentStore:
    """The agent domain's ports of one storage engine."""

    tasks: TaskRepository
    approvals: ApprovalRepository
    client_calls: ClientCallRepository
    artifacts: ArtifactRepository
    idempotency: IdempotencyRepository
    switches: AgentSwitchRepository
    leases: LeaseRepository
