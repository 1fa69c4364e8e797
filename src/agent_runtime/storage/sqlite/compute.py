"""The compute domain's ports (compute/ports.py) on SQLite: tasks, metric
samples and probe results."""

from __future__ import annotations

import dataclasses
import json

from agent_runtime.compute.records import UNFINISHED_STATUSES, MetricSample, ProbeResult, TaskRecord
from agent_runtime.storage.sqlite.database import Database


_TASK_FIELDS = [f.name for f in dataclasses.fields(TaskRecord)]
_SAMPLE_FIELDS = [f.name for f in dataclasses.fields(MetricSample)]


def _task(row) -> TaskRecord:
    values = {name: row[name] for name in _TASK_FIELDS}
    values["parameters"] = json.loads(values["parameters"])
    values["output"] = json.loads(values["output"]) if values["output"] else None
    return TaskRecord(**values)


class SqliteTaskRepository:
    def __init__(self, database: Database):
        self._db = database

    @staticmethod
    def _row(task: TaskRecord) -> tuple:
        values = dataclasses.asdict(task)
        values["parameters"] = json.dumps(values["parameters"])
        values["output"] = json.dumps(values["output"]) if values["output"] is not None else None
        return tuple(values[name] for name in _TASK_FIELDS)

    async def insert_task(self, task: TaskRecord) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO compute_tasks ({', '.join(_TASK_FIELDS)}) VALUES ({', '.join('?' * len(_TASK_FIELDS))})",
                self._row(task),
            )

    async def update_task(self, task: TaskRecord) -> None:
        columns = [name for name in _TASK_FIELDS if name != "task_id"]
        row = dict(zip(_TASK_FIELDS, self._row(task)))
        async with self._db.transaction() as tx:
            await tx.execute(
                f"UPDATE compute_tasks SET {', '.join(f'{c} = ?' for c in columns)} WHERE task_id = ?",
                (*(row[c] for c in columns), task.task_id),
            )

    async def get_task(self, task_id: str) -> TaskRecord | None:
        row = await self._db.fetch_one(f"SELECT {', '.join(_TASK_FIELDS)} FROM compute_tasks WHERE task_id = ?", (task_id,))
        return _task(row) if row else None

    async def list_tasks(self, limit: int, offset: int, scope: str | None = None) -> tuple[list[TaskRecord], int]:
        rows = await self._db.fetch_all(
            f"SELECT {', '.join(_TASK_FIELDS)} FROM compute_tasks WHERE (? IS NULL OR owner_id = ?)"
            " ORDER BY seq DESC LIMIT ? OFFSET ?",
            (scope, scope, limit, offset),
        )
        total = await self._db.fetch_one("SELECT COUNT(*) FROM compute_tasks WHERE (? IS NULL OR owner_id = ?)", (scope, scope))
        return [_task(r) for r in rows], int(total[0]) if total else 0

    async def tasks_finished_between(self, start_epoch: float, end_epoch: float) -> list[TaskRecord]:
        rows = await self._db.fetch_all(
            f"SELECT {', '.join(_TASK_FIELDS)} FROM compute_tasks"
            " WHERE finished_epoch >= ? AND finished_epoch <= ? ORDER BY finished_epoch",
            (start_epoch, end_epoch),
        )
        return [_task(r) for r in rows]

    # Which unfinished tasks a starting process fails: on SQLite, the one
    # process's, so all of them (PostgreSQL's: those of processes gone).
    _LEFT_BEHIND = ""

    async def fail_unfinished(self, reason: str, now: str, now_epoch: float) -> int:
        async with self._db.transaction() as tx:
            cursor = await self._finish_left_behind(tx, "failed", reason, now, now_epoch)
            return cursor.rowcount

    async def cancel_left_behind(self, task_id: str, reason: str, now: str, now_epoch: float) -> TaskRecord | None:
        async with self._db.transaction() as tx:
            cursor = await self._finish_left_behind(tx, "cancelled", reason, now, now_epoch, task_id)
            if not cursor.rowcount:
                return None
            return _task(await tx.fetch_one(f"SELECT {', '.join(_TASK_FIELDS)} FROM compute_tasks WHERE task_id = ?", (task_id,)))

    async def _finish_left_behind(self, tx, status: str, reason: str, now: str, now_epoch: float, *task_id: str):
        """Finishes the unfinished tasks no live process runs (only the
        task `task_id` names, when given) with `status` and `reason`."""
        return await tx.execute(
            "UPDATE compute_tasks SET status = ?, error = ?, finished_at = ?, updated_at = ?, finished_epoch = ?"
            f" WHERE status IN ({', '.join('?' * len(UNFINISHED_STATUSES))}){' AND task_id = ?' if task_id else ''}"
            f"{self._LEFT_BEHIND}",
            (status, reason, now, now, now_epoch, *UNFINISHED_STATUSES, *task_id),
        )

    async def request_cancel(self, task_id: str, now: str) -> bool:
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE compute_tasks SET cancel_requested_at = ?"
                f" WHERE task_id = ? AND status IN ({', '.join('?' * len(UNFINISHED_STATUSES))})",
                (now, task_id, *UNFINISHED_STATUSES),
            )
            return cursor.rowcount > 0


class SqliteMetricSampleRepository:
    def __init__(self, database: Database):
        self._db = database

    async def insert_sample(self, sample: MetricSample) -> None:
        values = dataclasses.asdict(sample)
        async with self._db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO compute_metric_samples ({', '.join(_SAMPLE_FIELDS)})"
                f" VALUES ({', '.join('?' * len(_SAMPLE_FIELDS))})",
                tuple(values[name] for name in _SAMPLE_FIELDS),
            )

    async def samples_between(self, start_epoch: float, end_epoch: float) -> list[MetricSample]:
        rows = await self._db.fetch_all(
            f"SELECT {', '.join(_SAMPLE_FIELDS)} FROM compute_metric_samples"
            " WHERE epoch >= ? AND epoch <= ? ORDER BY epoch",
            (start_epoch, end_epoch),
        )
        return [MetricSample(**{name: row[name] for name in _SAMPLE_FIELDS}) for row in rows]

    async def prune_samples(self, before_epoch: float) -> int:
        async with self._db.transaction() as tx:
            cursor = await tx.execute("DELETE FROM compute_metric_samples WHERE epoch < ?", (before_epoch,))
            return cursor.rowcount


class SqliteProbeRepository:
    def __init__(self, database: Database):
        self._db = database

    async def save_probe(self, results: list[ProbeResult], now: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM compute_probe_results")
            for result in results:
                await tx.execute(
                    "INSERT INTO compute_probe_results (operation, size_class, device_id, seconds, note, probed_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (result.operation, result.size_class, result.device_id, result.seconds, result.note, now),
                )
