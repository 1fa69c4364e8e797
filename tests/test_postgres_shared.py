"""What server processes on one PostgreSQL database must not do to each
other: a process that starts takes on only the work of processes that are
gone (it fails their unfinished compute tasks), never what another live
process runs; a stopped process does not keep its row locks; counts of one
rate window that waited for each other agree on its clock. Fine-tuning jobs
move by their leases (test_ml_scale_out.py)."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from agent_runtime.compute.records import TaskRecord
from agent_runtime.storage.engines import open_storage
from agent_runtime.storage.errors import DatabaseError
from agent_runtime.storage.postgres import database as postgres_database

NOW = "2026-01-01T00:00:00.000Z"


def running_task(task_id: str) -> TaskRecord:
    return TaskRecord(
        task_id=task_id, operation="matrix_multiply", status="running", priority=5, device_preference="auto",
        parameters={"size": 64}, created_at=NOW, updated_at=NOW,
    )


async def test_a_starting_process_fails_only_the_tasks_of_processes_that_are_gone(postgres_dsn, tmp_path):
    running = await open_storage(tmp_path / "unused.sqlite3", postgres_dsn)
    starting = await open_storage(tmp_path / "unused.sqlite3", postgres_dsn)
    try:
        await running.compute_tasks.insert_task(running_task("theirs"))
        assert await starting.compute_tasks.fail_unfinished("gone", NOW, 0.0) == 0
        assert (await starting.compute_tasks.get_task("theirs")).status == "running"
        await running.database.close()
        # Its connections' backends end a moment after the close.
        for _ in range(50):
            if await starting.compute_tasks.fail_unfinished("gone", NOW, 0.0):
                break
            await asyncio.sleep(0.1)
        failed = await starting.compute_tasks.get_task("theirs")
    finally:
        await starting.database.close()
    assert (failed.status, failed.error) == ("failed", "gone")


async def test_a_count_that_waited_for_another_process_reports_a_window_that_has_begun(postgres_dsn, tmp_path):
    storage = await open_storage(tmp_path / "unused.sqlite3", postgres_dsn)
    other = await asyncpg.connect(postgres_dsn)
    try:
        await storage.rate_windows.count("user:a", 0.05)
        await asyncio.sleep(0.1)
        # Another process's count holds the bucket's row while ours starts,
        # then starts a new window (the last one is over) and commits.
        async with other.transaction():
            await other.execute("SELECT 1 FROM rate_limit_windows WHERE bucket = 'user:a' FOR UPDATE")
            waiting = asyncio.create_task(storage.rate_windows.count("user:a", 60))
            await asyncio.sleep(0.2)
            assert not waiting.done()
            await other.execute(
                "UPDATE rate_limit_windows SET window_start = extract(epoch FROM clock_timestamp()), requests = 1 WHERE bucket = 'user:a'"
            )
        window = await waiting
    finally:
        await other.close()
        await storage.database.close()
    assert window.requests == 2
    assert window.started_at <= window.now < window.started_at + 60


async def test_a_process_stopped_mid_transaction_loses_it_and_its_row_locks(postgres_dsn, monkeypatch):
    """A process stopped (SIGSTOP, a partition) inside a transaction keeps
    its row locks only until the server ends its idle transaction; it comes
    back to a DatabaseError, and what it wrote was rolled back."""
    monkeypatch.setattr(postgres_database, "IDLE_IN_TRANSACTION_MS", 200)
    database = await postgres_database.Database.open(postgres_dsn)
    other = await asyncpg.connect(postgres_dsn)
    try:
        await other.execute("CREATE TABLE counters (id integer PRIMARY KEY, n integer NOT NULL)")
        await other.execute("INSERT INTO counters VALUES (1, 0)")
        with pytest.raises(DatabaseError):
            async with database.transaction() as tx:
                await tx.execute("UPDATE counters SET n = 1 WHERE id = 1")
                in_flight = asyncio.create_task(tx.execute("SELECT pg_sleep(0.1)"))
                await asyncio.sleep(0.02)
                # Stopped: the statement's answer, then the server's goodbye,
                # wait unread in the socket.
                time.sleep(1.0)
                await in_flight
        unlocked = await other.fetch("SELECT n FROM counters WHERE id = 1 FOR UPDATE NOWAIT")
        assert [row["n"] for row in unlocked] == [0]
    finally:
        await other.close()
        await database.close()
