"""PostgreSQL adapters of the agent domain's ports: the SQLite adapters'
SQL, except where SQLite's own words differ (INSERT OR REPLACE,
json_extract), and with a row lock where a read decides what a write takes
(a task's next event number, a session's switch count, a call's approval)."""

from __future__ import annotations

from agent_runtime.agents.ports import AgentStore
from agent_runtime.storage.postgres.agents.approvals import PostgresApprovalRepository
from agent_runtime.storage.postgres.agents.idempotency import PostgresIdempotencyRepository
from agent_runtime.storage.postgres.agents.leases import PostgresLeaseRepository
from agent_runtime.storage.postgres.agents.switches import PostgresAgentSwitchRepository
from agent_runtime.storage.postgres.agents.tasks import PostgresTaskRepository
from agent_runtime.storage.postgres.database import Database
from agent_runtime.storage.sqlite.agents.artifacts import SqliteArtifactRepository
from agent_runtime.storage.sqlite.agents.client_calls import SqliteClientCallRepository


def postgres_agent_store(database: Database) -> AgentStore:
    # Client calls and artifacts: the SQLite adapters' SQL runs
    # on PostgreSQL as it is (storage/postgres/dialect.py).
    return AgentStore(
        tasks=PostgresTaskRepository(database),
        approvals=PostgresApprovalRepository(database),
        client_calls=SqliteClientCallRepository(database),
        artifacts=SqliteArtifactRepository(database),
        idempotency=PostgresIdempotencyRepository(database),
        leases=PostgresLeaseRepository(database),
        switches=PostgresAgentSwitchRepository(database),
    )
