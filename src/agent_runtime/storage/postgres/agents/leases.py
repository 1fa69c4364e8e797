"""Run leases on PostgreSQL: claimers skip the rows another claimer has
locked, so many processes claim at once without waiting on each other."""

from __future__ import annotations

from agent_runtime.storage.sqlite.agents.leases import SqliteLeaseRepository


class PostgresLeaseRepository(SqliteLeaseRepository):
    CHOICE_LOCK = " FOR UPDATE OF agent_tasks SKIP LOCKED"
