"""SQLite adapter of the agents' ApprovalRepository."""

from __future__ import annotations

from typing import Any

from agent_runtime.agents.models import ApprovalRecord, StatusChange
from agent_runtime.storage.sqlite.agents.rows import APPROVAL_COLUMNS, approval_from_row, change_task_status, check_lease, dumps
from agent_runtime.storage.sqlite.database import Database


class SqliteApprovalRepository:
    def __init__(self, database: Database):
        self._db = database

    async def create_approval(self, proposed: ApprovalRecord, pause: StatusChange, now: str) -> tuple[ApprovalRecord, bool]:
        """Inserts, or finds the existing approval of the same tool call.
        While it still has the proposed status, `pause` changes its task in
        the same transaction. The flag says whether the task changed."""
        values = []
        for column in APPROVAL_COLUMNS:
            value = getattr(proposed, column)
            if column in ("arguments", "modified_arguments") and value is not None:
                value = dumps(value)
            values.append(value)
        async with self._db.transaction() as tx:
            await check_lease(tx, proposed.task_id)
            row = await tx.fetch_one(
                f"SELECT {', '.join(APPROVAL_COLUMNS)} FROM tool_approvals WHERE task_id = ? AND call_id = ?",
                (proposed.task_id, proposed.call_id),
            )
            approval = proposed
            if row is not None:
                approval = approval_from_row(row)
            else:
                await tx.execute(
                    f"INSERT INTO tool_approvals ({', '.join(APPROVAL_COLUMNS)}) VALUES ({', '.join('?' for _ in values)})",
                    tuple(values),
                )
            paused = approval.status == proposed.status and await change_task_status(tx, approval.task_id, pause, now)
        return approval, paused

    async def get_approval(self, approval_id: str) -> ApprovalRecord | None:
        row = await self._db.fetch_one(
            f"SELECT {', '.join(APPROVAL_COLUMNS)} FROM tool_approvals WHERE approval_id = ?", (approval_id,)
        )
        return approval_from_row(row) if row else None

    async def list_approvals(self, task_id: str, status: str = "") -> list[ApprovalRecord]:
        sql = f"SELECT {', '.join(APPROVAL_COLUMNS)} FROM tool_approvals WHERE task_id = ?"
        parameters: tuple = (task_id,)
        if status:
            sql += " AND status = ?"
            parameters += (status,)
        rows = await self._db.fetch_all(sql + " ORDER BY created_at, approval_id", parameters)
        return [approval_from_row(row) for row in rows]

    async def resolve_approval(
        self, approval_id: str, changes: dict[str, Any], *, only_if_status: str, resume: StatusChange | None = None
    ) -> ApprovalRecord | None:
        """Applies a decision only while the approval has `only_if_status`,
        and `resume` to its task in the same transaction; None when it has
        another status."""
        values = [(dumps(v) if k == "modified_arguments" and v is not None else v) for k, v in changes.items()]
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                f"UPDATE tool_approvals SET {', '.join(f'{k} = ?' for k in changes)} WHERE approval_id = ? AND status = ?",
                (*values, approval_id, only_if_status),
            )
            if cursor.rowcount == 0:
                return None
            row = await tx.fetch_one(
                f"SELECT {', '.join(APPROVAL_COLUMNS)} FROM tool_approvals WHERE approval_id = ?", (approval_id,)
            )
            resolved = approval_from_row(row)
            await check_lease(tx, resolved.task_id)
            await change_task_status(tx, resolved.task_id, resume, changes.get("resolved_at") or resolved.created_at)
        return resolved

    async def session_approvals(self, session_id: str, status: str = "", call_id: str = "") -> list[ApprovalRecord]:
        """Approvals of every task of a session, oldest first; narrowed to a
        status and to one tool call id when given."""
        columns = ", ".join(f"a.{c}" for c in APPROVAL_COLUMNS)
        sql = f"SELECT {columns} FROM tool_approvals a JOIN agent_tasks t ON t.task_id = a.task_id WHERE t.session_id = ?"
        parameters: tuple = (session_id,)
        if status:
            sql += " AND a.status = ?"
            parameters += (status,)
        if call_id:
            sql += " AND a.call_id = ?"
            parameters += (call_id,)
        rows = await self._db.fetch_all(sql + " ORDER BY a.created_at, a.approval_id", parameters)
        return [approval_from_row(row) for row in rows]

    async def overdue_approvals(self, now: str) -> list[ApprovalRecord]:
        """Pending approvals whose expiry passed before `now`."""
        rows = await self._db.fetch_all(
            f"SELECT {', '.join(APPROVAL_COLUMNS)} FROM tool_approvals WHERE status = 'pending' AND expires_at < ? ORDER BY expires_at",
            (now,),
        )
        return [approval_from_row(row) for row in rows]
