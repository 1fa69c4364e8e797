"""Test harness: real servers on free ports, real Envoy, SQLite in a temp dir."""

from __future__ import annotations

import contextlib
import os
import pathlib
from typing import AsyncIterator, Iterator

import grpc
import httpx
import pytest
import pytest_asyncio

from agent_helpers import git_project
from agent_runtime.config import Settings
from agent_runtime.server import Runtime, start_runtime
from llm_fakes import FakeAnthropic, FakeOpenAI
from ports import free_port
from postgres_helpers import PostgresServer, create_database, postgres_server

TEST_API_KEY = "test-api-key"
# The `agent-runtime serve` processes tests start inherit this: none of them
# tests compute, and each would spend ~10 s of CPU on the device probe.
os.environ["COMPUTE_PROBE"] = "false"


def make_settings(data_dir: pathlib.Path, **changes) -> Settings:
    """Settings for a loopback test server: gRPC on port 0, Envoy on a free
    port, a configured API key, a fast heartbeat and generous rate limits.
    `changes` as for Settings.replace: a dict changes fields of a section
    (`server={"run_envoy": False}`), a section object replaces it."""
    settings = Settings().replace(
        data_dir=data_dir,
        server={"grpc_port": 0, "http_port": free_port(), "heartbeat_seconds": 0.5},
        # Password hashes at the least cost allowed: the suite registers and logs in
        # hundreds of users, each 64 MiB and ~0.2 s of CPU at the default
        # cost (which tests/test_passwords.py checks).
        auth={"api_key": TEST_API_KEY, "password_hash_memory_kib": 64, "password_hash_passes": 1},
        # Tests register and log in many users from one address; the
        # defaults (10/min per IP) are tested in test_rate_limits.py.
        rate_limits={"unauthenticated": 1000, "authenticated": 1000},
        # The device probe costs ~10 s of CPU per server start; the compute
        # tests that need it turn it on.
        compute={"probe": False},
    )
    return settings.replace(**changes)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = await start_runtime(settings)
    try:
        yield runtime
    finally:
        await runtime.stop()


@contextlib.asynccontextmanager
async def running_without_envoy(settings: Settings) -> AsyncIterator[tuple[Runtime, grpc.aio.Channel]]:
    """The server without Envoy and its bridge, for servicer tests (not
    slow), and a channel to it."""
    async with running(settings.replace(server={"run_envoy": False})) as started:
        async with grpc.aio.insecure_channel(started.grpc_target) as channel:
            yield started, channel


def http_client(runtime: Runtime, api_key: str | None = TEST_API_KEY) -> httpx.AsyncClient:
    headers = {"x-api-key": api_key} if api_key else {}
    # Generous: model calls and fine-tuning run on loaded CI machines.
    return httpx.AsyncClient(base_url=runtime.http_url, headers=headers, timeout=30)


def grpc_metadata(api_key: str = TEST_API_KEY) -> tuple[tuple[str, str], ...]:
    return (("x-api-key", api_key),)


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory) -> AsyncIterator[Runtime]:
    """One server with Envoy per test module."""
    async with running(make_settings(tmp_path_factory.mktemp("data"))) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def http(runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(runtime) as client:
        yield client


@pytest_asyncio.fixture(scope="module")
async def channel(runtime) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(runtime.grpc_target) as opened:
        yield opened


@pytest_asyncio.fixture(scope="module")
async def fake() -> AsyncIterator[FakeOpenAI]:
    """A scripted OpenAI-format server (llm_fakes.py), one per module."""
    async with FakeOpenAI() as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def fakes() -> AsyncIterator[tuple[FakeOpenAI, FakeAnthropic]]:
    """A scripted OpenAI-format and Anthropic-format server, one each per
    module; `two_providers` makes them a server's `llm` section."""
    async with FakeOpenAI() as openai_fake, FakeAnthropic() as anthropic_fake:
        yield openai_fake, anthropic_fake


def two_providers(fakes: tuple[FakeOpenAI, FakeAnthropic]) -> dict:
    openai_fake, anthropic_fake = fakes
    return {
        "openai_base_url": openai_fake.base_url,
        "anthropic_api_key": "sk-ant-test",
        "anthropic_base_url": anthropic_fake.base_url,
        "max_retries": 1,
        "timeout_seconds": 10,
    }


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session (initdb ~1.3 s), stopped
    and removed after. Skipped only where PostgreSQL is not installed
    (scripts/ensure-postgres installs it; CI always has it)."""
    try:
        with postgres_server() as server:
            yield server
    except FileNotFoundError as missing:
        pytest.skip(str(missing))


@pytest_asyncio.fixture
async def postgres_dsn(postgres) -> str:
    """A fresh, empty database on the session's server."""
    return await create_database(postgres.dsn)


@pytest.fixture
def project(tmp_path) -> pathlib.Path:
    """A small git repository for agent tasks to work in."""
    return git_project(tmp_path / "project")


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto` (scripts/test): at least four workers even on two cores,
    since most tests wait on servers, processes and the network."""
    return max(4, os.cpu_count() or 1)


def pytest_collection_modifyitems(items):
    # Everything that starts Envoy is slow; CI runs it all the same.
    for item in items:
        if "runtime" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    # Workers (`--dist loadfile`) take files in this order: files with a
    # long test first, so that none starts near the end and holds up the run.
    holding_long = {item.path for item in items if item.get_closest_marker("long")}
    items.sort(key=lambda item: item.path not in holding_long)
