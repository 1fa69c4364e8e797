"""SQLite adapters of the agent domain's ports, one module per concern."""

from __future__ import annotations

from agent_runtime.agents.ports import AgentStore
from agent_runtime.storage.sqlite.agents.approvals import SqliteApprovalRepository
from agent_runtime.storage.sqlite.agents.artifacts import SqliteArtifactRepository
from agent_runtime.storage.sqlite.agents.client_calls import SqliteClientCallRepository
from agent_runtime.storage.sqlite.agents.idempotency import SqliteIdempotencyRepository
from agent_runtime.storage.sqlite.agents.leases import SqliteLeaseRepository
from agent_runtime.storage.sqlite.agents.switches import SqliteAgentSwitchRepository
from agent_runtime.storage.sqlite.agents.tasks import SqliteTaskRepository
from agent_runtime.storage.sqlite.database import Database


def sqlite_agent_store(database: Database) -> AgentStore:
    return AgentStore(
        tasks=SqliteTaskRepository(database),
        approvals=SqliteApprovalRepository(database),
        client_calls=SqliteClientCallRepository(database),
        artifacts=SqliteArtifactRepository(database),
        idempotency=SqliteIdempotencyRepository(database),
        leases=SqliteLeaseRepository(database),
        switches=SqliteAgentSwitchRepository(database),
    )
