"""Compute tasks on PostgreSQL with two server processes (two storages and
compute services in this test process, wired as the composition root wires
them, on one database): a task runs on the process that accepted it, and a
client served by the other process (Envoy may send it there) cancels it,
watches it, reads and lists it as it would through the process that runs it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import asyncpg
import pytest

from agent_runtime.compute.registry import BackendRegistry
from agent_runtime.compute.service import ComputeLimits, ComputeService
from agent_runtime.errors import FailedPrecondition
from agent_runtime.server import event_buses
from agent_runtime.storage.engines import open_storage
from agent_runtime.storage.postgres.database import APPLICATION_PREFIX

LONG_TASK = {"size": 512, "iterations": 1000}
SHORT_TASK = {"size": 1000, "iterations": 1}


@pytest.fixture(scope="module")
def registry() -> BackendRegistry:
    return BackendRegistry()


@contextlib.asynccontextmanager
async def process(dsn: str, tmp_path, registry: BackendRegistry):
    """One server process's storage, relay and compute service."""
    storage = await open_storage(tmp_path / "unused.sqlite3", dsn)
    await event_buses(storage)
    compute = ComputeService(
        storage.compute_tasks, storage.compute_probes, registry, limits=ComputeLimits(probe_second_pass_delay_seconds=None)
    )
    storage.relay.serve_compute(compute.updates.publish, compute.cancel_requested)
    await compute.start(probe=False)
    try:
        yield compute
    finally:
        await compute.stop()
        await storage.database.close()


async def until(condition, timeout: float = 20.0) -> None:
    async def poll():
        while not await condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def test_a_cancel_through_another_process_cancels_the_task_there_with_the_same_answer(postgres_dsn, tmp_path, registry):
    async with process(postgres_dsn, tmp_path, registry) as runs, process(postgres_dsn, tmp_path, registry) as other:
        running = await runs.submit("matrix_multiply", LONG_TASK, device_preference="cpu_0", wait=False)
        # Queued behind it (one task runs at a time).
        queued = await runs.submit("matrix_multiply", LONG_TASK, device_preference="cpu_0", wait=False)
        # Reads through the other process show the current state.
        await until(lambda: _status_is(other, running.task_id, "running"))
        assert (await other.get(queued.task_id)).status == "queued"
        listed, total = await other.list_tasks(10, 0)
        assert total == 2 and {t.task_id: t.status for t in listed} == {running.task_id: "running", queued.task_id: "queued"}

        cancelled_queued = await other.cancel(queued.task_id)
        cancelled_running = await other.cancel(running.task_id)
        finished = [await runs.wait(running.task_id), await runs.wait(queued.task_id)]
        stored = [await other.get(running.task_id), await other.get(queued.task_id)]
        with pytest.raises(FailedPrecondition, match=r"already finished \(cancelled\)"):
            await other.cancel(running.task_id)
    # As a cancel on the process that runs them answers (test_compute_service).
    for answer in (cancelled_running, cancelled_queued):
        assert (answer.status, answer.error) == ("cancelled", "cancelled by request")
    assert [cancelled_running, cancelled_queued] == finished == stored


async def test_a_task_whose_process_is_gone_is_cancelled_by_the_canceller(postgres_dsn, tmp_path, registry):
    async with process(postgres_dsn, tmp_path, registry) as other:
        record = await task_of_a_process_gone(postgres_dsn, tmp_path, registry)
        cancelled = await other.cancel(record.task_id)
        stored = await other.get(record.task_id)
    assert (cancelled.status, cancelled.error) == ("cancelled", "cancelled by request")
    assert cancelled.finished_at is not None and stored == cancelled


async def test_a_watcher_on_another_process_sees_every_change_in_order_once(postgres_dsn, tmp_path, registry):
    async with process(postgres_dsn, tmp_path, registry) as runs, process(postgres_dsn, tmp_path, registry) as other:
        remote, local = other.watch(), runs.watch()
        assert await anext(remote) is None and await anext(local) is None
        finished = [await runs.submit("vector_operations", SHORT_TASK) for _ in range(3)]
        blocker = await runs.submit("matrix_multiply", LONG_TASK, device_preference="cpu_0", wait=False)
        await until(lambda: _status_is(runs, blocker.task_id, "running"))
        await other.cancel(blocker.task_id)
        seen_remote = [await asyncio.wait_for(anext(remote), 10) for _ in range(3 * 3 + 3)]
        seen_local = [await asyncio.wait_for(anext(local), 10) for _ in range(3 * 3 + 3)]
        # Each change once: nothing more arrives on either.
        for watch in (remote, local):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(anext(watch), 1.0)
    expected = [(t.task_id, status) for t in finished for status in ("queued", "running", "completed")]
    expected += [(blocker.task_id, status) for status in ("queued", "running", "cancelled")]
    assert [(r.task_id, r.status) for r in seen_remote] == expected
    assert [(r.task_id, r.status) for r in seen_local] == expected
    # The same fields as the process that ran them published.
    assert [dataclasses.astuple(r) for r in seen_remote] == [dataclasses.astuple(r) for r in seen_local]
    assert seen_remote[2] == finished[0]


async def test_watchers_on_every_process_hear_of_the_tasks_a_starting_process_fails(postgres_dsn, tmp_path, registry):
    async with process(postgres_dsn, tmp_path, registry) as other:
        remote = other.watch()
        assert await anext(remote) is None
        record = await task_of_a_process_gone(postgres_dsn, tmp_path, registry)
        async with process(postgres_dsn, tmp_path, registry):
            seen = [await asyncio.wait_for(anext(remote), 10) for _ in range(2)]
    assert [(r.task_id, r.status) for r in seen] == [(record.task_id, "queued"), (record.task_id, "failed")]
    assert seen[1].error == "the server stopped before the task finished; submit it again"


async def test_a_cancel_request_whose_notification_never_came_still_cancels_the_task(postgres_dsn, tmp_path, registry):
    async with process(postgres_dsn, tmp_path, registry) as runs:
        record = await runs.submit("matrix_multiply", LONG_TASK, device_preference="cpu_0", wait=False)
        await until(lambda: _status_is(runs, record.task_id, "running"))
        # Recorded as another process's request is, less the notification.
        connection = await asyncpg.connect(postgres_dsn)
        try:
            await connection.execute(
                "UPDATE compute_tasks SET cancel_requested_at = $1 WHERE task_id = $2", "2026-01-01T00:00:00.000Z", record.task_id
            )
        finally:
            await connection.close()
        finished = await asyncio.wait_for(runs.wait(record.task_id), 20)
    assert (finished.status, finished.error) == ("cancelled", "cancelled by request")


async def task_of_a_process_gone(dsn: str, tmp_path, registry: BackendRegistry):
    """A task queued by a process that then went away without finishing it."""
    gone = await open_storage(tmp_path / "unused.sqlite3", dsn)
    abandoned = ComputeService(gone.compute_tasks, gone.compute_probes, registry)
    record = await abandoned.submit("matrix_multiply", LONG_TASK, device_preference="cpu_0", wait=False)
    origin = APPLICATION_PREFIX + gone.database.origin
    await gone.database.close()
    # Its connections' backends end a moment after the close.
    await until(lambda: _gone(dsn, origin))
    return record


async def _status_is(compute: ComputeService, task_id: str, status: str) -> bool:
    return (await compute.get(task_id)).status == status


async def _gone(dsn: str, application_name: str) -> bool:
    connection = await asyncpg.connect(dsn)
    try:
        return not await connection.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", application_name)
    finally:
        await connection.close()
