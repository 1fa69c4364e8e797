"""The repository contract suite: each domain port's behaviour, written
against the port alone, so that every storage engine passes the same tests.

`stores` opens one fresh database of an engine and builds all its adapters
on it. A new engine is one entry in ENGINES: its name and a function that
opens a fresh database (taking what it needs from the test's fixtures: a
temporary directory, a PostgreSQL server) and yields its `Stores`."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
from typing import AsyncContextManager, AsyncIterator, Callable

import pytest
import pytest_asyncio

from agent_runtime.agents.ports import AgentStore
from agent_runtime.compute.ports import MetricSampleRepository, ProbeRepository, TaskRepository
from agent_runtime.identity.ports import IdentityRepository
from agent_runtime.ml.ports import FileRepository, JobRepository, ModelRepository
from agent_runtime.sessions.ports import SessionRepository
from agent_runtime.storage.postgres.agents import postgres_agent_store
from agent_runtime.storage.postgres.compute import (
    PostgresMetricSampleRepository,
    PostgresProbeRepository,
    PostgresTaskRepository,
)
from agent_runtime.storage.postgres.database import Database as PostgresDatabase
from agent_runtime.storage.postgres.identity import PostgresIdentityRepository
from agent_runtime.storage.postgres.ml import PostgresFileRepository, PostgresJobRepository, PostgresModelRepository
from agent_runtime.storage.postgres.sessions import PostgresSessionRepository
from agent_runtime.storage.sqlite.agents import sqlite_agent_store
from agent_runtime.storage.sqlite.compute import SqliteMetricSampleRepository, SqliteProbeRepository, SqliteTaskRepository
from agent_runtime.storage.sqlite.database import Database
from agent_runtime.storage.sqlite.identity import SqliteIdentityRepository
from agent_runtime.storage.sqlite.ml import SqliteFileRepository, SqliteJobRepository, SqliteModelRepository
from agent_runtime.storage.sqlite.sessions import SqliteSessionRepository
from postgres_helpers import create_database


@dataclasses.dataclass
class Stores:
    """Every port of the sessions, identity, agents, compute and ML domains,
    on one database."""

    sessions: SessionRepository
    identity: IdentityRepository
    agents: AgentStore
    tasks: TaskRepository
    samples: MetricSampleRepository
    probes: ProbeRepository
    models: ModelRepository
    files: FileRepository
    jobs: JobRepository


@contextlib.asynccontextmanager
async def sqlite_stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    directory: pathlib.Path = request.getfixturevalue("tmp_path")
    database = await Database.open(directory / "contract.sqlite3")
    try:
        yield Stores(
            sessions=SqliteSessionRepository(database),
            identity=SqliteIdentityRepository(database),
            agents=sqlite_agent_store(database),
            tasks=SqliteTaskRepository(database),
            samples=SqliteMetricSampleRepository(database),
            probes=SqliteProbeRepository(database),
            models=SqliteModelRepository(database),
            files=SqliteFileRepository(database),
            jobs=SqliteJobRepository(database),
        )
    finally:
        await database.close()


@contextlib.asynccontextmanager
async def postgres_stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    database = await PostgresDatabase.open(await create_database(request.getfixturevalue("postgres").dsn))
    try:
        yield Stores(
            sessions=PostgresSessionRepository(database),
            identity=PostgresIdentityRepository(database),
            agents=postgres_agent_store(database),
            tasks=PostgresTaskRepository(database),
            samples=PostgresMetricSampleRepository(database),
            probes=PostgresProbeRepository(database),
            models=PostgresModelRepository(database),
            files=PostgresFileRepository(database),
            jobs=PostgresJobRepository(database),
        )
    finally:
        await database.close()


ENGINES: dict[str, Callable[[pytest.FixtureRequest], AsyncContextManager[Stores]]] = {
    "sqlite": sqlite_stores,
    "postgres": postgres_stores,
}


@pytest.fixture(params=list(ENGINES))
def engine(request) -> str:
    return request.param


@pytest_asyncio.fixture
async def stores(engine, request) -> AsyncIterator[Stores]:
    async with ENGINES[engine](request) as opened:
        yield opened
