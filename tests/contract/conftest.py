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
from agent_runtime.identity.ports import IdentityRepository, RateWindows, SigningKeyStore
from agent_runtime.identity.ratelimit import MemoryRateWindows
from agent_runtime.identity.tokens import KeyFile
from agent_runtime.ml.ports import FileRepository, JobRepository, ModelRepository
from agent_runtime.sessions.ports import SessionRepository
from agent_runtime.storage.engines import open_storage
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
    signing_keys: SigningKeyStore
    rate_windows: RateWindows


@contextlib.asynccontextmanager
async def _opened(data_dir: pathlib.Path, database_url: str | None) -> AsyncIterator[Stores]:
    """The adapters the server would use (storage/engines.py) as Stores."""
    storage = await open_storage(data_dir / "contract.sqlite3", database_url)
    try:
        yield Stores(
            sessions=storage.sessions,
            identity=storage.identity,
            agents=storage.agents,
            tasks=storage.compute_tasks,
            samples=storage.compute_samples,
            probes=storage.compute_probes,
            models=storage.ml_models,
            files=storage.ml_files,
            jobs=storage.ml_jobs,
            # On SQLite, the server's own: the data dir's file, counts in memory.
            signing_keys=storage.signing_keys or KeyFile(data_dir / "jwt-signing-key"),
            rate_windows=storage.rate_windows or MemoryRateWindows(),
        )
    finally:
        await storage.database.close()


def sqlite_stores(request: pytest.FixtureRequest) -> AsyncContextManager[Stores]:
    return _opened(request.getfixturevalue("tmp_path"), None)


@contextlib.asynccontextmanager
async def postgres_stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    database_url = await create_database(request.getfixturevalue("postgres").dsn)
    async with _opened(request.getfixturevalue("tmp_path"), database_url) as stores:
        yield stores


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
