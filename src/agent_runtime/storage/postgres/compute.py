"""Compute tasks, metric samples and probe results on PostgreSQL: the
SQLite adapters' SQL runs as it is (storage/postgres/dialect.py), except
that a task is failed at start only when the process that ran it is gone."""

from __future__ import annotations

from agent_runtime.storage.postgres.database import left_behind
from agent_runtime.storage.sqlite.compute import SqliteMetricSampleRepository, SqliteProbeRepository, SqliteTaskRepository


class PostgresTaskRepository(SqliteTaskRepository):
    # The `process` column (by default the inserting connection's
    # application name, migration 0012) names this process or one with no
    # connection left: another live worker's running tasks stay its own.
    _LEFT_BEHIND = " AND " + left_behind("compute_tasks.process")


class PostgresMetricSampleRepository(SqliteMetricSampleRepository):
    pass


class PostgresProbeRepository(SqliteProbeRepository):
    pass
