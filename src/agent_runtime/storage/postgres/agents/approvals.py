"""Tool approvals on PostgreSQL."""

from __future__ import annotations

from agent_runtime.agents.models import ApprovalRecord, StatusChange
from agent_runtime.storage.sqlite.agents.approvals import SqliteApprovalRepository


class PostgresApprovalRepository(SqliteApprovalRepository):
    async def create_approval(self, proposed: ApprovalRecord, pause: StatusChange, now: str) -> tuple[ApprovalRecord, bool]:
        # An approval's id is new for each proposal, so no unique key stops
        # two proposals of one call: proposers of one task take turns on
        # its row, and the second finds the first's approval.
        async with self._db.transaction() as tx:
            await tx.execute("SELECT 1 FROM agent_tasks WHERE task_id = ? FOR UPDATE", (proposed.task_id,))
            return await super().create_approval(proposed, pause, now)
