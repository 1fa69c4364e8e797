"""Compute tasks, metric samples and probe results on PostgreSQL: the
SQLite adapters' SQL runs as it is (storage/postgres/dialect.py), except
that a task is failed at start only when the process that ran it is gone."""

from __future__ import annotations

from agent_runtime.storage.sqlite.compute import SqliteMetricSampleRepository, SqliteProbeRepository, SqliteTaskRepository


class PostgresTaskRepository(SqliteTaskRepository):
    # The `process` column (by default the inserting connection's
    # application name, migration 0012) names this process or one with no
    # connection left: another live worker's running tasks stay its own.
    _LEFT_BEHIND = (
        " AND (process IS NULL OR process = current_setting('application_name') OR NOT EXISTS"
        " (SELECT 1 FROM pg_stat_activity WHERE application_name = compute_tasks.process))"
    )


class PostgresMetricSampleRepository(SqliteMetricSampleRepository):
    pass


class PostgresProbeRepository(SqliteProbeRepository):
    pass
