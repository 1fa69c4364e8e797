"""Users and API keys on PostgreSQL: the SQLite adapter's SQL as it is."""

from __future__ import annotations

from agent_runtime.storage.sqlite.identity import SqliteIdentityRepository


class PostgresIdentityRepository(SqliteIdentityRepository):
    pass
