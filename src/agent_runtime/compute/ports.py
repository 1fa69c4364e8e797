"""The compute domain's storage ports, one per concern: tasks (the queue's
history), metric samples (the series that metrics and insights read) and
the start-up probe's results. Adapters (storage/<engine>/compute.py)
implement them and pass the repository contract suite (tests/contract/)."""

from __future__ import annotations

from typing import Protocol

from agent_runtime.compute.records import MetricSample, ProbeResult, TaskRecord


class TaskRepository(Protocol):
    async def insert_task(self, task: TaskRecord) -> None: ...

    async def update_task(self, task: TaskRecord) -> None:
        """Stores every field of the task with this task_id."""
        ...

    async def get_task(self, task_id: str) -> TaskRecord | None: ...

    async def list_tasks(self, limit: int, offset: int, scope: str | None = None) -> tuple[list[TaskRecord], int]:
        """A page of the newest tasks first (in order of insertion), and how
        many there are; `scope`: only that owner's (None: all)."""
        ...

    async def tasks_finished_between(self, start_epoch: float, end_epoch: float) -> list[TaskRecord]:
        """Tasks whose finished_epoch lies in [start, end], oldest first."""
        ...

    async def fail_unfinished(self, reason: str, now: str, now_epoch: float) -> int:
        """Marks the tasks in UNFINISHED_STATUSES that no other live process
        runs (on an engine one process serves: all of them) failed with
        `reason`, finished at `now`; how many there were."""
        ...

    async def cancel_left_behind(self, task_id: str, reason: str, now: str, now_epoch: float) -> TaskRecord | None:
        """For a task this process does not run: when it is unfinished and
        no other live process runs it (as fail_unfinished decides), marks it
        cancelled with `reason`, finished at `now`, and returns it; else
        None."""
        ...

    async def request_cancel(self, task_id: str, now: str) -> bool:
        """Records at `now` that the task, if still unfinished, is to be
        cancelled, and tells the process that runs it (on PostgreSQL through
        relay.py, which calls that process's ComputeService.cancel_requested);
        False when it had finished."""
        ...


class MetricSampleRepository(Protocol):
    async def insert_sample(self, sample: MetricSample) -> None: ...

    async def samples_between(self, start_epoch: float, end_epoch: float) -> list[MetricSample]:
        """Samples whose epoch lies in [start, end], oldest first."""
        ...

    async def prune_samples(self, before_epoch: float) -> int:
        """Deletes the samples older than `before_epoch`; how many."""
        ...


class ProbeRepository(Protocol):
    async def save_probe(self, results: list[ProbeResult], now: str) -> None:
        """Replaces the stored probe results with these, probed at `now`."""
        ...
