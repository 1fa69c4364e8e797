"""Writers on two processes at once, on SQLite and on PostgreSQL (the
engine fixture; two storages on one database). The contract suite
(tests/contract/) holds each port to its behaviour one call at a time; here
writers of one task, job or session race, and on PostgreSQL they take turns
on its row as SQLite's single writer makes them: they never take the same
sequence nor pass the switch limit together. Creates of one id race too:
one wins, the other gets the port's "taken" answer, never a database
error."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

import pytest
import pytest_asyncio

from agent_runtime.agents.models import PAUSE, AgentSwitchRecord, ApprovalRecord, ClientCallRecord, SwitchLimitReached, TaskRecord
from agent_runtime.identity.models import UserRecord
from agent_runtime.ml.models import JobEvent, JobRecord, ModelRecord
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


# Creates of one id on two processes at once: the database's unique key
# decides, and the loser gets the domain's "taken" answer, never a database
# error. Several ids race in one gather so that the two transactions of at
# least one id overlap.
RACED_IDS = 10


async def test_concurrent_creates_of_one_session_id_give_one_success_and_one_taken(storages):
    created = await asyncio.gather(
        *(
            storages[n % 2].sessions.create_session(SessionRecord(f"raced-{n // 2}", "raced", "running", NOW, NOW))
            for n in range(2 * RACED_IDS)
        )
    )
    assert [created[2 * i] + created[2 * i + 1] for i in range(RACED_IDS)] == [1] * RACED_IDS


async def test_session_created_by_an_append_while_created_directly_is_created_once(storages):
    results = await asyncio.gather(
        *(
            storages[0].sessions.create_session(SessionRecord(f"both-{n // 2}", "direct", "running", NOW, NOW))
            if n % 2
            else storages[1].sessions.append_events(
                [PendingAppend(f"both-{n // 2}", NewEvent("note", NOW), SessionRecord(f"both-{n // 2}", "append", "running", NOW, NOW), None)],
                NOW,
            )
            for n in range(2 * RACED_IDS)
        )
    )
    appended = [outcome for result in results if isinstance(result, list) for outcome in result]
    assert all(outcome is not None for outcome in appended)
    for n in range(RACED_IDS):
        session = await storages[0].sessions.get_session(f"both-{n}")
        assert session.event_count == 1
        assert len(await storages[1].sessions.list_events(f"both-{n}", 0, 0)) == 1


async def test_concurrent_registrations_of_one_email_give_one_success_and_one_taken(storages):
    created = await asyncio.gather(
        *(
            storages[n % 2].identity.create_user(UserRecord(f"user-{n}", f"raced-{n // 2}@example.com", "R", "r", "hash", NOW))
            for n in range(2 * RACED_IDS)
        )
    )
    assert [created[2 * i] + created[2 * i + 1] for i in range(RACED_IDS)] == [1] * RACED_IDS


async def test_concurrent_adds_of_one_model_id_give_one_success_and_one_taken(storages):
    created = await asyncio.gather(
        *(
            storages[n % 2].ml_models.add_model(
                ModelRecord(f"model-{n // 2}", f"copy {n}", "1", "", {}, "mlx", "/m", None, None, NOW, NOW)
            )
            for n in range(2 * RACED_IDS)
        )
    )
    assert [created[2 * i] + created[2 * i + 1] for i in range(RACED_IDS)] == [1] * RACED_IDS


async def test_concurrent_proposals_of_one_client_call_store_it_once(storages):
    await storages[0].agents.tasks.create_task(TaskRecord("t", "s", "alice", "describe", "/tmp", "running", 10, NOW, NOW), [])
    results = await asyncio.gather(
        *(
            storages[n % 2].agents.client_calls.create_client_call(
                ClientCallRecord("t", f"call-{n // 2}", "pick", {"n": n}, "pending", NOW), PAUSE, NOW
            )
            for n in range(2 * RACED_IDS)
        )
    )
    for i in range(RACED_IDS):
        (first, first_new, _), (second, second_new, _) = results[2 * i], results[2 * i + 1]
        assert first_new + second_new == 1
        assert first.arguments == second.arguments


async def test_concurrent_proposals_of_one_approval_store_it_once(storages):
    await storages[0].agents.tasks.create_task(TaskRecord("t", "s", "alice", "describe", "/tmp", "running", 10, NOW, NOW), [])
    results = await asyncio.gather(
        *(
            storages[n % 2].agents.approvals.create_approval(
                ApprovalRecord(f"approval-{n}", "t", "alice", f"call-{n // 2}", "shell", {"n": n}, "risky", "pending", NOW),
                PAUSE,
                NOW,
            )
            for n in range(2 * RACED_IDS)
        )
    )
    for i in range(RACED_IDS):
        assert results[2 * i][0].approval_id == results[2 * i + 1][0].approval_id
        assert len([a for a in await storages[0].agents.approvals.list_approvals("t") if a.call_id == f"call-{i}"]) == 1
