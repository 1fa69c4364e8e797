"""Compute tasks, metric samples and probe results on PostgreSQL: the
SQLite adapters' SQL runs as it is (storage/postgres/dialect.py)."""

from __future__ import annotations

from agent_runtime.storage.sqlite.compute import SqliteMetricSampleRepository, SqliteProbeRepository, SqliteTaskRepository


class PostgresTaskRepository(SqliteTaskRepository):
    pass


class PostgresMetricSampleRepository(SqliteMetricSampleRepository):
    pass


class PostgresProbeRepository(SqliteProbeRepository):
    pass
