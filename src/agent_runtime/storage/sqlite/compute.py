"""Compute task, metric-sample and probe repository: the interface and its
SQLite implementation."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Protocol

from agent_runtime.storage.sqlite.database import Database


@dataclasses.dataclass
class TaskRecord:
    task_id: str
    operation: str
    status: str
    priority: int
    device_preference: str
    parameters: dict[str, Any]
    created_at: str
    updated_at: str
    device_used: str = ""
    output: dict[str, Any] | None = None
    error: str = ""
    execution_time: float = 0.0
    memory_used_mb: float = 0.0
    gpu_utilization: float = 0.0
    queue_time_ms: float = 0.0
    gflops: float = 0.0
    bandwidth_gb_s: float = 0.0
    started_at: str | None = None
    finished_at: str | None = None
    finished_epoch: float | None = None
    # The user who submitted it; None: an administrator (identity/ownership.py).
    owner_id: str | None = None


@dataclasses.dataclass
class MetricSample:
    epoch: float
    sampled_at: str
    cpu_utilization: float
    memory_usage: float
    gpu_utilization: float
    active_tasks: int
    queued_tasks: int
    tasks_completed: int
    tasks_failed: int
    tasks_per_minute: float
    avg_execution_ms: float
    avg_gflops: float
    ai_tasks_processed: int


@dataclasses.dataclass
class ProbeResult:
    operation: str
    size_class: str
    device_id: str
    seconds: float | None
    note: str = ""


_TASK_FIELDS = [f.name for f in dataclasses.fields(TaskRecord)]
_SAMPLE_FIELDS = [f.name for f in dataclasses.fields(MetricSample)]


class ComputeRepository(Protocol):
    async def insert_task(self, task: TaskRecord) -> None: ...

    async def update_task(self, task: TaskRecord) -> None: ...

    async def get_task(self, task_id: str) -> TaskRecord | None: ...

    async def list_tasks(self, limit: int, offset: int, scope: str | None = None) -> tuple[list[TaskRecord], int]: ...

    async def tasks_finished_between(self, start_epoch: float, end_epoch: float) -> list[TaskRecord]: ...

    async def fail_unfinished(self, reason: str, now: str, now_epoch: float) -> int: ...

    async def insert_sample(self, sample: MetricSample) -> None: ...

    async def samples_between(self, start_epoch: float, end_epoch: float) -> list[MetricSample]: ...

    async def prune_samples(self, before_epoch: float) -> int: ...

    async def save_probe(self, results: list[ProbeResult], now: str) -> None: ...


def _task(row) -> TaskRecord:
    values = {name: row[name] for name in _TASK_FIELDS}
    values["parameters"] = json.loads(values["parameters"])
    values["output"] = json.loads(values["output"]) if values["output"] else None
    return TaskRecord(**values)


class SqliteComputeRepository:
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
        """The newest tasks first; `scope`: only that owner's (None: all)."""
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

    async def fail_unfinished(self, reason: str, now: str, now_epoch: float) -> int:
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE compute_tasks SET status = 'failed', error = ?, finished_at = ?, updated_at = ?,"
                " finished_epoch = ? WHERE status IN ('queued', 'running')",
                (reason, now, now, now_epoch),
            )
            return cursor.rowcount

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

    async def save_probe(self, results: list[ProbeResult], now: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM compute_probe_results")
            for result in results:
                await tx.execute(
                    "INSERT INTO compute_probe_results (operation, size_class, device_id, seconds, note, probed_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (result.operation, result.size_class, result.device_id, result.seconds, result.note, now),
                )
