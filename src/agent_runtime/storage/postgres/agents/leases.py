"""Run leases on PostgreSQL: claimers skip the rows another claimer has
locked, so many processes claim at once without waiting on each other."""

from __future__ import annotations

import datetime as dt

from agent_runtime.storage.sqlite.agents.leases import SqliteLeaseRepository


class PostgresLeaseRepository(SqliteLeaseRepository):
    CHOICE_LOCK = " FOR UPDATE OF agent_tasks SKIP LOCKED"

    async def database_time(self) -> dt.datetime:
        row = await self._db.fetch_one("SELECT clock_timestamp() AS now")
        return row["now"]
