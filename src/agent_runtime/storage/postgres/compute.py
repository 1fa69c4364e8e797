"""Compute tasks, metric samples and probe results on PostgreSQL: the
SQLite adapter's SQL as it is."""

from __future__ import annotations

from agent_runtime.storage.sqlite.compute import SqliteComputeRepository


class PostgresComputeRepository(SqliteComputeRepository):
    pass
