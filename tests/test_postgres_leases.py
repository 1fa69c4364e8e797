"""Run leases on PostgreSQL beyond the contract suite: a process stopped in
the middle of a transaction (SIGSTOP, a partition) cannot keep the task's
row locked, which claims skip, for as long as it stays stopped."""

from __future__ import annotations

import asyncio

from agent_runtime.agents.models import RUNNABLE_STATUSES, TaskRecord
from agent_runtime.sessions.models import SessionRecord
from agent_runtime.storage.engines import open_storage
from agent_helpers import wait_for

NOW = "2026-01-01T00:00:00.000Z"
EXPIRED = "2026-01-01T00:00:01.000Z"
LATER = "2026-01-01T00:01:00.000Z"


async def test_a_process_stopped_inside_a_transaction_does_not_keep_its_row_locks(postgres_dsn, tmp_path):
    """A holder SIGSTOPped while it appends a run event keeps that task's
    row locked: the server ends its idle transaction, and another process
    claims the task once the lease expired (claims skip locked rows)."""
    stalled, claimer = await open_storage(tmp_path / "a.sqlite3", postgres_dsn), await open_storage(tmp_path / "b.sqlite3", postgres_dsn)
    try:
        await stalled.sessions.create_session(SessionRecord("s", "s", "running", NOW, NOW))
        task = TaskRecord("t1", "s", "alice", "do it", "/tmp", "running", 5, NOW, NOW)
        await stalled.agents.tasks.create_task(task, [])
        await stalled.agents.leases.claim_task("t1", "stalled", NOW, EXPIRED, statuses=RUNNABLE_STATUSES)

        async def stop_inside_a_transaction() -> None:
            async with stalled.database.transaction() as tx:
                await tx.execute("SELECT 1 FROM agent_tasks WHERE task_id = 't1' FOR UPDATE")
                await asyncio.sleep(3600)  # what a stopped process does

        stopped = asyncio.create_task(stop_inside_a_transaction())

        async def claimed():
            return await claimer.agents.leases.claim_runnable("claimer", LATER, LATER, statuses=RUNNABLE_STATUSES, limit=1)

        try:
            assert [lease.task_id for lease in await wait_for(claimed, bool, timeout=60)] == ["t1"]
        finally:
            stopped.cancel()
            await asyncio.gather(stopped, return_exceptions=True)
    finally:
        await stalled.database.close()
        await claimer.database.close()
