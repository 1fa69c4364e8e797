#!/usr/bin/env python3
"""What run leases cost (issue 16), on SQLite and PostgreSQL in the same run,
through the storage adapters the server uses:

- a run's event append fenced by its lease (agents.ports.run_lease: one
  more predicate on the task's row) against the same append unfenced, as a
  ratio measured back to back on the same database;
- claims: concurrent claimers taking batches of runnable tasks
  (claim_runnable), in claims/s, and how many tasks two claimers both got
  (must be 0).

PostgreSQL is a throwaway cluster of the machine's binaries on a free
loopback port (tests/postgres_helpers.py, fsync off), removed after.

    .venv/bin/python bench/run_leases.py [--events 2000] [--tasks 2000] [--write bench/RESULTS-leases.md]
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

from agent_runtime.agents.models import RUNNABLE_STATUSES, TaskRecord  # noqa: E402
from agent_runtime.agents.ports import run_lease  # noqa: E402
from agent_runtime.sessions.models import SessionRecord  # noqa: E402
from agent_runtime.storage.engines import Storage, open_storage  # noqa: E402
from postgres_helpers import create_database, postgres_server  # noqa: E402

NOW = "2026-12-02T10:00:00.000Z"
LATER = "2026-12-02T10:10:00.000Z"
CLAIMERS = 4
BATCH = 10
# Alternating rounds of unfenced and fenced appends.
ROUNDS = 6


async def add_tasks(storage: Storage, prefix: str, count: int, status: str) -> None:
    if await storage.sessions.get_session("bench") is None:
        await storage.sessions.create_session(SessionRecord("bench", "bench", "running", NOW, NOW))
    for n in range(count):
        task = TaskRecord(f"{prefix}{n:06}", "bench", "bench", "bench", "/tmp", status, 5, NOW, NOW)
        await storage.agents.tasks.create_task(task, [])


async def appends_per_second(storage: Storage, task_id: str, count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        await storage.agents.tasks.append_event(task_id, "token", {"content": str(n)}, NOW)
    return count / (time.perf_counter() - started)


async def fence_ratio(storage: Storage, events: int) -> tuple[float, float]:
    """(unfenced appends/s, fenced / unfenced): rounds of each, alternated,
    so that a growing table or a checkpoint weighs on both alike; the
    medians."""
    await add_tasks(storage, "fence", 1, "running")
    [lease] = await storage.agents.leases.claim_runnable("bench", NOW, LATER, statuses=RUNNABLE_STATUSES, limit=1)
    await appends_per_second(storage, lease.task_id, events // ROUNDS)  # warm-up
    plain, fenced = [], []
    for _ in range(ROUNDS):
        plain.append(await appends_per_second(storage, lease.task_id, events // ROUNDS))
        token = run_lease.set(lease)
        try:
            fenced.append(await appends_per_second(storage, lease.task_id, events // ROUNDS))
        finally:
            run_lease.reset(token)
    return statistics.median(plain), statistics.median(fenced) / statistics.median(plain)


async def claims(storage: Storage, tasks: int) -> tuple[float, int]:
    """(claims/s with CLAIMERS claimers, tasks claimed twice)."""
    await add_tasks(storage, "claim", tasks, "queued")

    async def claimer(owner: str) -> list[str]:
        got = []
        while True:
            leases = await storage.agents.leases.claim_runnable(owner, NOW, LATER, statuses=RUNNABLE_STATUSES, limit=BATCH)
            if not leases:
                return got
            got += [lease.task_id for lease in leases]

    started = time.perf_counter()
    claimed = await asyncio.gather(*(claimer(f"claimer{n}") for n in range(CLAIMERS)))
    elapsed = time.perf_counter() - started
    everything = [task_id for got in claimed for task_id in got]
    return len(everything) / elapsed, len(everything) - len(set(everything))


async def measure(name: str, storage: Storage, events: int, tasks: int) -> str:
    try:
        plain, ratio = await fence_ratio(storage, events)
        rate, duplicates = await claims(storage, tasks)
    finally:
        await storage.database.close()
    return f"| {name} | {plain:,.0f} | {ratio:.2f} | {rate:,.0f} | {duplicates} |"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--write", type=pathlib.Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        rows.append(await measure("SQLite", await open_storage(pathlib.Path(directory) / "bench.sqlite3"), args.events, args.tasks))
    with postgres_server() as server:
        url = await create_database(server.dsn)
        rows.append(await measure("PostgreSQL", await open_storage(pathlib.Path("/nonexistent"), url), args.events, args.tasks))
    table = "\n".join(
        [
            f"| engine | event appends/s, unfenced | fenced / unfenced | claims/s ({CLAIMERS} claimers, batches of {BATCH}) | claimed twice |",
            "| --- | ---: | ---: | ---: | ---: |",
            *rows,
        ]
    )
    print(table)
    if args.write:
        args.write.write_text(
            "# Run leases: what fencing and claiming cost\n\n"
            f"`bench/run_leases.py --events {args.events} --tasks {args.tasks}`, one process, the storage adapters alone "
            "(no server); PostgreSQL local, fsync off. A ratio near 1 means the fence adds no round trip.\n\n" + table + "\n"
        )


if __name__ == "__main__":
    asyncio.run(main())
