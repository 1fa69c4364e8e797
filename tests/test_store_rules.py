"""Rules that the identity and ML domains apply on what their stores answer
(taken ids, missing jobs), on real SQLite without a server."""

from __future__ import annotations

import pytest
import pytest_asyncio

from agent_runtime.errors import AlreadyExists, NotFound
from agent_runtime.events.bus import EventBus
from agent_runtime.identity.passwords import Passwords
from agent_runtime.identity.service import IdentityService
from agent_runtime.identity.tokens import TokenIssuer
from agent_runtime.clock import utc_now
from agent_runtime.ml.job_leases import JobLeases
from agent_runtime.ml.jobs import JobRunner
from agent_runtime.storage.sqlite.database import Database
from agent_runtime.storage.sqlite.identity import SqliteIdentityRepository
from agent_runtime.storage.sqlite.ml import SqliteFileRepository, SqliteJobRepository, SqliteModelRepository


@pytest_asyncio.fixture
async def database(tmp_path):
    opened = await Database.open(tmp_path / "rules.sqlite3")
    yield opened
    await opened.close()


async def test_an_email_registers_once(database):
    identity = IdentityService(SqliteIdentityRepository(database), TokenIssuer(b"k" * 32, 3600), Passwords(memory_kib=64, passes=1))
    first = await identity.register("alice@example.com", "a long password")
    with pytest.raises(AlreadyExists, match="A user with email alice@example.com already exists"):
        await identity.register("Alice@Example.com", "another password")
    assert [user.user_id for user in await identity.list_users()] == [first.user_id]


async def test_updating_a_missing_job_is_job_not_found(database, tmp_path):
    async def register_result(job, adapter_dir) -> str:
        raise AssertionError("no job runs here")

    jobs = SqliteJobRepository(database)
    runner = JobRunner(
        jobs,
        SqliteModelRepository(database),
        SqliteFileRepository(database),
        EventBus(),
        tmp_path / "jobs",
        register_result,
        JobLeases(jobs, owner="this process", data_dir_id="this data dir", seconds=30, clock=utc_now),
    )
    for only_if_status in ((), ("queued",)):
        with pytest.raises(NotFound, match="Fine-tuning job 'missing' not found") as raised:
            await runner.update(
                "missing", {"status": "failed"}, event_type="status", message="failed", only_if_status=only_if_status
            )
        assert raised.value.code == "JOB_NOT_FOUND"
