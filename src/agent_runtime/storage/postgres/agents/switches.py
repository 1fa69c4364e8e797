"""Multi-agent sessions on PostgreSQL."""

from __future__ import annotations

from agent_runtime.agents.models import AgentSwitchRecord, SessionAgentRecord
from agent_runtime.storage.sqlite.agents.switches import SqliteAgentSwitchRepository


class PostgresAgentSwitchRepository(SqliteAgentSwitchRepository):
    async def switch(
        self, session_id: str, default_agent: str, switch: AgentSwitchRecord, max_switches: int
    ) -> SessionAgentRecord:
        # Concurrent switches of one session count one after the other, so
        # together they cannot pass the limit (the session's row, since the
        # switch row may not exist yet).
        async with self._db.transaction() as tx:
            await tx.execute("SELECT 1 FROM sessions WHERE session_id = ? FOR UPDATE", (session_id,))
            return await super().switch(session_id, default_agent, switch, max_switches)
