"""SQLite adapter of the agents' ClientCallRepository: calls of tools the
client runs, and their results."""

from __future__ import annotations

from agent_runtime.agents.models import ClientCallRecord, StatusChange
from agent_runtime.storage.sqlite.agents.rows import CLIENT_CALL_COLUMNS, change_task_status, check_lease, client_call_from_row, dumps, marks
from agent_runtime.storage.sqlite.database import Database


class SqliteClientCallRepository:
    def __init__(self, database: Database):
        self._db = database

    async def create_client_call(self, proposed: ClientCallRecord, pause: StatusChange, now: str) -> tuple[ClientCallRecord, bool, bool]:
        """Inserts, or finds the stored call of the same id; while it still
        has the proposed status, `pause` changes its task in the same
        transaction. The flags: whether the call is new, and whether the
        task changed."""
        values = [
            dumps(getattr(proposed, c)) if c == "arguments" else int(proposed.is_error) if c == "is_error" else getattr(proposed, c)
            for c in CLIENT_CALL_COLUMNS
        ]
        async with self._db.transaction() as tx:
            await check_lease(tx, proposed.task_id)
            # Insert first, read on conflict: a read first would let two
            # PostgreSQL connections both find none and both insert.
            cursor = await tx.execute(
                f"INSERT INTO client_tool_calls ({', '.join(CLIENT_CALL_COLUMNS)}) VALUES ({', '.join('?' for _ in values)})"
                " ON CONFLICT (task_id, call_id) DO NOTHING",
                tuple(values),
            )
            call = proposed
            created = cursor.rowcount > 0
            if not created:
                row = await tx.fetch_one(
                    f"SELECT {', '.join(CLIENT_CALL_COLUMNS)} FROM client_tool_calls WHERE task_id = ? AND call_id = ?",
                    (proposed.task_id, proposed.call_id),
                )
                call = client_call_from_row(row)
            paused = call.status == proposed.status and await change_task_status(tx, call.task_id, pause, now)
        return call, created, paused

    async def get_client_call(self, task_id: str, call_id: str) -> ClientCallRecord | None:
        row = await self._db.fetch_one(
            f"SELECT {', '.join(CLIENT_CALL_COLUMNS)} FROM client_tool_calls WHERE task_id = ? AND call_id = ?",
            (task_id, call_id),
        )
        return client_call_from_row(row) if row else None

    async def session_client_calls(self, session_id: str, call_id: str = "") -> list[ClientCallRecord]:
        columns = ", ".join(f"c.{c}" for c in CLIENT_CALL_COLUMNS)
        sql = f"SELECT {columns} FROM client_tool_calls c JOIN agent_tasks t ON t.task_id = c.task_id WHERE t.session_id = ?"
        parameters: tuple = (session_id,)
        if call_id:
            sql += " AND c.call_id = ?"
            parameters += (call_id,)
        rows = await self._db.fetch_all(sql + " ORDER BY c.created_at", parameters)
        return [client_call_from_row(row) for row in rows]

    async def pending_client_calls(self, created_before: str) -> list[ClientCallRecord]:
        """Calls still waiting for the client's result, made before
        `created_before`."""
        rows = await self._db.fetch_all(
            f"SELECT {', '.join(CLIENT_CALL_COLUMNS)} FROM client_tool_calls WHERE status = 'pending' AND created_at < ? ORDER BY created_at",
            (created_before,),
        )
        return [client_call_from_row(row) for row in rows]

    async def answer_client_call(
        self, task_id: str, call_id: str, result: str, is_error: bool, now: str, *, transition: StatusChange, resume: StatusChange | None = None
    ) -> bool:
        """Stores the client's result with `transition` of the call's
        status, and `resume` of its task in the same transaction; False
        when the call has none of its from-statuses."""
        async with self._db.transaction() as tx:
            await check_lease(tx, task_id)
            cursor = await tx.execute(
                "UPDATE client_tool_calls SET status = ?, result = ?, is_error = ?, answered_at = ?"
                f" WHERE task_id = ? AND call_id = ? AND status IN ({marks(transition.from_statuses)})",
                (transition.to, result, int(is_error), now, task_id, call_id, *transition.from_statuses),
            )
            if cursor.rowcount == 0:
                return False
            await change_task_status(tx, task_id, resume, now)
            return True
