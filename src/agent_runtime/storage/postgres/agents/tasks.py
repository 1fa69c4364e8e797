"""Agent tasks, their conversation, events and inputs on PostgreSQL."""

from __future__ import annotations

from typing import Any

from agent_runtime.agents.models import TaskEventRecord
from agent_runtime.storage.sqlite.agents.tasks import SqliteTaskRepository


class PostgresTaskRepository(SqliteTaskRepository):
    async def append_event(self, task_id: str, type: str, body: dict[str, Any], now: str) -> TaskEventRecord | None:
        # The task's row is its event counter: writers of one task's events
        # (its run, a decision taken on another process) take turns on its
        # lock, so each reads the sequence the previous one committed.
        async with self._db.transaction() as tx:
            await tx.execute("SELECT 1 FROM agent_tasks WHERE task_id = ? FOR UPDATE", (task_id,))
            return await super().append_event(task_id, type, body, now)

    async def started_calls(self, task_id: str) -> set[str]:
        rows = await self._db.fetch_all(
            "SELECT body::json ->> 'call_id' AS call_id FROM agent_task_events WHERE task_id = ? AND type = 'tool_call'",
            (task_id,),
        )
        return {row["call_id"] for row in rows if row["call_id"]}

    async def task_event(self, task_id: str, sequence: int) -> TaskEventRecord | None:
        """One stored event: what a notification names (relay.py)."""
        events = await self.list_events(task_id, sequence - 1, 1)
        return events[0] if events and events[0].sequence == sequence else None
