"""Row ↔ record conversions and the status transition shared by the agent
store's SQLite adapters."""

from __future__ import annotations

import json
from typing import Any

from agent_runtime.agents.models import ApprovalRecord, ClientCallRecord, LeaseLost, StatusChange, TaskRecord
from agent_runtime.agents.ports import run_lease
from agent_runtime.sessions.models import AppendGuard

JSON_TASK_FIELDS = {"tools", "context", "plan"}
BOOL_TASK_FIELDS = {"result_success", "stop_requested"}
TASK_COLUMNS = [f.name for f in TaskRecord.__dataclass_fields__.values()]
APPROVAL_COLUMNS = [f.name for f in ApprovalRecord.__dataclass_fields__.values()]
CLIENT_CALL_COLUMNS = [f.name for f in ClientCallRecord.__dataclass_fields__.values()]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def marks(values) -> str:
    return ", ".join("?" for _ in values)


def task_values(task: TaskRecord, columns: list[str]) -> list[Any]:
    values = []
    for column in columns:
        value = getattr(task, column)
        if column in JSON_TASK_FIELDS:
            value = None if value is None else dumps(value)
        elif column in BOOL_TASK_FIELDS and value is not None:
            value = int(value)
        values.append(value)
    return values


def task_from_row(row) -> TaskRecord:
    values = {}
    for column in TASK_COLUMNS:
        value = row[column]
        if column in JSON_TASK_FIELDS and value is not None:
            value = json.loads(value)
        elif column in BOOL_TASK_FIELDS and value is not None:
            value = bool(value)
        values[column] = value
    return TaskRecord(**values)


def approval_from_row(row) -> ApprovalRecord:
    values = {column: row[column] for column in APPROVAL_COLUMNS}
    values["arguments"] = json.loads(values["arguments"])
    if values["modified_arguments"] is not None:
        values["modified_arguments"] = json.loads(values["modified_arguments"])
    return ApprovalRecord(**values)


def client_call_from_row(row) -> ClientCallRecord:
    values = {column: row[column] for column in CLIENT_CALL_COLUMNS}
    values["arguments"] = json.loads(values["arguments"])
    values["is_error"] = bool(values["is_error"])
    return ClientCallRecord(**values)


async def change_task_status(tx, task_id: str, change: StatusChange | None, now: str) -> bool:
    """Applies `change` (if any) to the task inside the caller's
    transaction; True when the task had one of its from-statuses."""
    if change is None:
        return False
    cursor = await tx.execute(
        f"UPDATE agent_tasks SET status = ?, updated_at = ? WHERE task_id = ? AND status IN ({marks(change.from_statuses)})",
        (change.to, now, task_id, *change.from_statuses),
    )
    return cursor.rowcount > 0


def lease_predicate(task_id: str) -> tuple[str, tuple]:
    """The fence of a write of `task_id` as an extra predicate on its
    agent_tasks row (see agents.ports.run_lease): empty when no lease of
    that task is set."""
    lease = run_lease.get()
    if lease is None or lease.task_id != task_id:
        return "", ()
    return " AND lease_owner = ? AND lease_epoch = ?", (lease.owner, lease.epoch)


def lease_guard(task_id: str) -> AppendGuard | None:
    """The check that the current run's lease of `task_id` is still the
    task's, in a given transaction; None when no lease of it is set. Read
    here, in the run's own asyncio task (the check may run in another: a
    group commit's). Locks the task's row where the engine has row locks
    (tx.ROW_LOCK), so no claim commits between the check and the write
    after it."""
    fence, parameters = lease_predicate(task_id)
    if not fence:
        return None

    async def holds(tx) -> bool:
        return await tx.fetch_one(f"SELECT 1 FROM agent_tasks WHERE task_id = ?{fence}{tx.ROW_LOCK}", (task_id, *parameters)) is not None

    return holds


async def check_lease(tx, task_id: str) -> None:
    """Raises LeaseLost unless the current run's lease of `task_id` (if
    one is set) is still the task's (see lease_guard)."""
    guard = lease_guard(task_id)
    if guard is not None and not await guard(tx):
        raise LeaseLost(task_id)
