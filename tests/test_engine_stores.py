"""Writers on two processes at once, on SQLite and on PostgreSQL (the
engine fixture; two storages on one database). The contract suite
(tests/contract/) holds each port to its behaviour one call at a time; here
writers of one task, job or session race, and on PostgreSQL they take turns
on its row as SQLite's single writer makes them: they never take the same
sequence nor pass the switch limit together."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

import pytest
import pytest_asyncio

from agent_runtime.agents.models import AgentSwitchRecord, SwitchLimitReached, TaskRecord
from agent_runtime.ml.models import JobEvent, JobRecord
from agent_runtime.sessions.models import NewEvent, PendingAppend, SessionRecord
from agent_runtime.storage.engines import Storage, open_storage
from postgres_helpers import create_database

NOW = "2026-01-01T00:00:00Z"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request) -> str:
    return request.param


@pytest_asyncio.fixture
async def storages(engine, request, tmp_path) -> AsyncIterator[list[Storage]]:
    url = await create_database(request.getfixturevalue("postgres").dsn) if engine == "postgresql" else None
    async with contextlib.AsyncExitStack() as stack:
        opened = []
        for _ in range(2):
            storage = await open_storage(tmp_path / "db.sqlite3", url)
            stack.push_async_callback(storage.database.close)
            opened.append(storage)
        await opened[0].sessions.append_events(
            [PendingAppend("s", NewEvent("note", NOW), SessionRecord("s", "s", "running", NOW, NOW), None)], NOW
        )
        yield opened


async def test_concurrent_writers_of_one_task_get_contiguous_event_sequences(storages):
    task = TaskRecord("t", "s", "alice", "describe", "/tmp", "running", 10, NOW, NOW)
    await storages[0].agents.tasks.create_task(task, [])
    appended = await asyncio.gather(
        *(storages[n % 2].agents.tasks.append_event("t", "progress", {"n": n}, NOW) for n in range(30))
    )
    events = await storages[1].agents.tasks.list_events("t", 0, 0)
    assert sorted(event.sequence for event in appended) == list(range(1, 31))
    assert [event.sequence for event in events] == list(range(1, 31))
    assert (await storages[0].agents.tasks.get_task("t")).last_event_sequence == 30


async def test_concurrent_agent_switches_never_pass_the_limit(storages):
    switches = await asyncio.gather(
        *(
            storages[n % 2].agents.switches.switch("s", "coder", AgentSwitchRecord("", f"agent-{n}", "why", NOW), 3)
            for n in range(6)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(result, SwitchLimitReached) for result in switches) == 3
    record = await storages[0].agents.switches.get("s")
    assert record.switch_count == 3 and len(record.history) == 3


async def test_concurrent_updates_of_one_job_get_contiguous_event_sequences(storages):
    job = JobRecord("job", "model", "queued", NOW, NOW, None, "file-a", None, "", {}, {}, None, None, last_sequence=1)
    await storages[0].ml_jobs.add_job(job, JobEvent("job", 1, "created", NOW, "created", "queued"))
    await asyncio.gather(
        *(
            storages[n % 2].ml_jobs.update_job("job", NOW, {}, JobEvent("job", 0, "progress", NOW, f"step {n}", "running"))
            for n in range(10)
        )
    )
    assert [event.sequence for event in await storages[0].ml_jobs.list_job_events("job", 0)] == list(range(1, 12))
