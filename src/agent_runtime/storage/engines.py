"""Choosing the storage engine: the embedded SQLite database (the default),
or PostgreSQL when DATABASE_URL names one. Either way the composition root
gets the database and an adapter for every port; on PostgreSQL also the
relay that feeds the live feeds what other processes wrote."""

from __future__ import annotations

import dataclasses
import pathlib
import sqlite3
import urllib.parse

from agent_runtime.agents.ports import AgentStore
from agent_runtime.compute.ports import MetricSampleRepository, ProbeRepository, TaskRepository
from agent_runtime.identity.ports import IdentityRepository, RateWindows, SigningKeyStore
from agent_runtime.ml.ports import FileRepository, JobRepository, ModelRepository
from agent_runtime.sessions.ports import SessionRepository
from agent_runtime.storage.errors import DatabaseError
from agent_runtime.storage.postgres import database as postgres
from agent_runtime.storage.postgres.agents import postgres_agent_store
from agent_runtime.storage.postgres.compute import (
    PostgresMetricSampleRepository,
    PostgresProbeRepository,
    PostgresTaskRepository,
)
from agent_runtime.storage.postgres.identity import PostgresIdentityRepository, PostgresRateWindows, PostgresSigningKeys
from agent_runtime.storage.postgres.ml import PostgresFileRepository, PostgresJobRepository, PostgresModelRepository
from agent_runtime.storage.postgres.relay import NotificationRelay
from agent_runtime.storage.postgres.sessions import PostgresSessionRepository
from agent_runtime.storage.sqlite import database as sqlite
from agent_runtime.storage.sqlite.agents import sqlite_agent_store
from agent_runtime.storage.sqlite.compute import SqliteMetricSampleRepository, SqliteProbeRepository, SqliteTaskRepository
from agent_runtime.storage.sqlite.identity import SqliteIdentityRepository
from agent_runtime.storage.sqlite.ml import SqliteFileRepository, SqliteJobRepository, SqliteModelRepository
from agent_runtime.storage.sqlite.sessions import SqliteSessionRepository


class StorageUnavailable(Exception):
    """The database could not be opened or migrated; says which and why."""


@dataclasses.dataclass
class Storage:
    engine: str
    database: sqlite.Database | postgres.Database
    sessions: SessionRepository
    identity: IdentityRepository
    agents: AgentStore
    compute_tasks: TaskRepository
    compute_samples: MetricSampleRepository
    compute_probes: ProbeRepository
    ml_models: ModelRepository
    ml_files: FileRepository
    ml_jobs: JobRepository
    # PostgreSQL's: hands live feeds what any process wrote (its start
    # says where to); None on SQLite, where only this process writes.
    relay: NotificationRelay | None = None
    # What every process on a PostgreSQL database shares; None on SQLite,
    # which serves one process: its key is the data dir's file and its
    # rate-limit windows are counted in memory (the composition root's).
    signing_keys: SigningKeyStore | None = None
    rate_windows: RateWindows | None = None


def redacted(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


async def open_storage(sqlite_path: pathlib.Path, postgres_url: str | None = None) -> Storage:
    """Opens and migrates the PostgreSQL database when a URL is given, else
    the SQLite file; the database's `close()` releases everything opened
    here."""
    if postgres_url is not None:
        return await _open_postgres(postgres_url)
    try:
        database = await sqlite.Database.open(sqlite_path)
    except (DatabaseError, sqlite3.Error, OSError) as error:
        # SQLite's own words, not the per-request advice DatabaseError adds.
        reason = error.__cause__ if isinstance(error, DatabaseError) and error.__cause__ else error
        raise StorageUnavailable(f"database {sqlite_path}: {reason}") from None
    return Storage(
        "sqlite",
        database,
        SqliteSessionRepository(database),
        SqliteIdentityRepository(database),
        sqlite_agent_store(database),
        SqliteTaskRepository(database),
        SqliteMetricSampleRepository(database),
        SqliteProbeRepository(database),
        SqliteModelRepository(database),
        SqliteFileRepository(database),
        SqliteJobRepository(database),
    )


async def _open_postgres(url: str) -> Storage:
    try:
        database = await postgres.Database.open(url)
    except DatabaseError as error:
        raise StorageUnavailable(f"database {redacted(url)}: {error.__cause__ or error}") from None
    sessions = PostgresSessionRepository(database)
    agents = postgres_agent_store(database)
    jobs = PostgresJobRepository(database)
    compute_tasks = PostgresTaskRepository(database)
    relay = NotificationRelay(database, sessions, agents.tasks, jobs, compute_tasks)
    database.on_close(relay.stop)
    return Storage(
        "postgresql",
        database,
        sessions,
        PostgresIdentityRepository(database),
        agents,
        compute_tasks,
        PostgresMetricSampleRepository(database),
        PostgresProbeRepository(database),
        PostgresModelRepository(database),
        PostgresFileRepository(database),
        jobs,
        relay,
        PostgresSigningKeys(database),
        PostgresRateWindows(database),
    )
