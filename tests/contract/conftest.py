"""The repository contract suite: each domain port's behaviour, written
against the port alone, so that every storage engine passes the same tests.

`stores` opens one fresh database of an engine and builds all its adapters
on it. A new engine is one entry in ENGINES: its name and a function that
opens a database in a temporary directory and yields its `Stores`."""

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
from agent_runtime.storage.sqlite.agents import sqlite_agent_store
from agent_runtime.storage.sqlite.compute import SqliteMetricSampleRepository, SqliteProbeRepository, SqliteTaskRepository
from agent_runtime.storage.sqlite.database import Database
from agent_runtime.storage.sqlite.identity import SqliteIdentityRepository
from agent_runtime.storage.sqlite.ml import SqliteFileRepository, SqliteJobRepository, SqliteModelRepository
from agent_runtime.storage.sqlite.sessions import SqliteSessionRepository


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
async def sqlite_stores(directory: pathlib.Path) -> AsyncIterator[Stores]:
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


ENGINES: dict[str, Callable[[pathlib.Path], AsyncContextManager[Stores]]] = {
    "sqlite": sqlite_stores,
}


@pytest.fixture(params=list(ENGINES))
def engine(request) -> str:
    return request.param


@pytest_asyncio.fixture
async def stores(engine, tmp_path) -> AsyncIterator[Stores]:
    async with ENGINES[engine](tmp_path) as opened:
        yield opened
