"""Compute tasks, metric samples and probe results on PostgreSQL: the
SQLite adapters' SQL runs as it is (storage/postgres/dialect.py), except
that a task is failed or cancelled as left behind only when the process that
ran it is gone. Every change of a task (queued, started, finished, failed by
a starting process) is announced to every process, and so is a request to
cancel a task another process runs (relay.py).

A task keeps no history: its row changes in place. So the notification of a
change carries the fields it set (without the task's input, result and
error, which can be large: an unfinished task has neither result nor error,
and a finished one changes no more, so its row is what that change left)."""

from __future__ import annotations

import dataclasses

from agent_runtime.compute.records import UNFINISHED_STATUSES, TaskRecord
from agent_runtime.storage.postgres.channels import COMPUTE_CANCEL_REQUESTS, COMPUTE_TASK_CHANGES, notify
from agent_runtime.storage.postgres.database import left_behind
from agent_runtime.storage.sqlite.compute import (
    _TASK_FIELDS,
    _task,
    SqliteMetricSampleRepository,
    SqliteProbeRepository,
    SqliteTaskRepository,
)

_ANNOUNCED_FIELDS = [name for name in _TASK_FIELDS if name not in ("parameters", "output", "error")]


async def _announce(tx, task: TaskRecord) -> None:
    await notify(tx, COMPUTE_TASK_CHANGES, {name: getattr(task, name) for name in _ANNOUNCED_FIELDS})


class PostgresTaskRepository(SqliteTaskRepository):
    # The `process` column (by default the inserting connection's
    # application name, migration 0012) names this process or one with no
    # connection left: another live worker's running tasks stay its own.
    _LEFT_BEHIND = " AND " + left_behind("compute_tasks.process")

    async def insert_task(self, task: TaskRecord) -> None:
        async with self._db.transaction() as tx:
            await super().insert_task(task)
            await _announce(tx, task)

    async def update_task(self, task: TaskRecord) -> None:
        async with self._db.transaction() as tx:
            await super().update_task(task)
            await _announce(tx, task)

    async def fail_unfinished(self, reason: str, now: str, now_epoch: float) -> int:
        async with self._db.transaction() as tx:
            left = await tx.execute(
                f"SELECT task_id FROM compute_tasks WHERE status IN ({', '.join('?' * len(UNFINISHED_STATUSES))})"
                f"{self._LEFT_BEHIND} FOR UPDATE",
                UNFINISHED_STATUSES,
            )
            task_ids = [row["task_id"] for row in await left.fetchall()]
            failed = await super().fail_unfinished(reason, now, now_epoch)
            if task_ids:
                rows = await tx.execute(
                    f"SELECT {', '.join(_TASK_FIELDS)} FROM compute_tasks WHERE task_id = ANY(?::text[])", (task_ids,)
                )
                for row in await rows.fetchall():
                    await _announce(tx, _task(row))
        return failed

    async def cancel_left_behind(self, task_id: str, reason: str, now: str, now_epoch: float) -> TaskRecord | None:
        async with self._db.transaction() as tx:
            cancelled = await super().cancel_left_behind(task_id, reason, now, now_epoch)
            if cancelled is not None:
                await _announce(tx, cancelled)
        return cancelled

    async def request_cancel(self, task_id: str, now: str) -> bool:
        async with self._db.transaction() as tx:
            requested = await super().request_cancel(task_id, now)
            if requested:
                await notify(tx, COMPUTE_CANCEL_REQUESTS, {"task_id": task_id})
        return requested

    async def announced_task(self, note: dict) -> TaskRecord | None:
        """The task as the change announced in `note` left it."""
        stored = await self.get_task(note["task_id"])
        if stored is None or note["status"] not in UNFINISHED_STATUSES:
            return stored
        return dataclasses.replace(stored, **{name: note[name] for name in _ANNOUNCED_FIELDS}, output=None, error="")

    async def cancels_requested_here(self) -> list[str]:
        """The unfinished tasks of this process that another asked to
        cancel: what a relay that missed notifications catches up on."""
        rows = await self._db.fetch_all(
            "SELECT task_id FROM compute_tasks WHERE cancel_requested_at IS NOT NULL"
            " AND process = current_setting('application_name')"
            f" AND status IN ({', '.join('?' * len(UNFINISHED_STATUSES))})",
            UNFINISHED_STATUSES,
        )
        return [row["task_id"] for row in rows]


class PostgresMetricSampleRepository(SqliteMetricSampleRepository):
    pass


class PostgresProbeRepository(SqliteProbeRepository):
    pass
