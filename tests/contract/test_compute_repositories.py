"""Contract of the compute domain's ports (compute/ports.py): tasks and
metric samples. (ProbeRepository only records; the domain reads nothing
back, so there is no behaviour of it to hold an adapter to.)"""

from __future__ import annotations

import dataclasses

from agent_runtime.compute.records import MetricSample, TaskRecord


def task(task_id: str, status: str = "queued", owner: str | None = None, **fields) -> TaskRecord:
    return TaskRecord(
        task_id=task_id,
        operation="matrix_multiply",
        status=status,
        priority=5,
        device_preference="auto",
        parameters={"size": 64, "iterations": 2},
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
        owner_id=owner,
        **fields,
    )


def sample(epoch: float) -> MetricSample:
    return MetricSample(epoch, f"at {epoch}", 10.0, 20.0, 0.0, 1, 2, 3, 0, 1.5, 12.0, 40.0, 0)


async def test_a_task_reads_back_and_an_update_stores_every_field(stores):
    queued = task("t1", owner="alice")
    await stores.tasks.insert_task(queued)
    assert await stores.tasks.get_task("t1") == queued
    finished = dataclasses.replace(
        queued,
        status="completed",
        device_used="cpu_0",
        output={"checksum": 1.25, "shape": [64, 64]},
        execution_time=0.5,
        memory_used_mb=3.0,
        queue_time_ms=1.0,
        gflops=12.5,
        bandwidth_gb_s=2.0,
        started_at="2026-01-01T00:00:01.000Z",
        finished_at="2026-01-01T00:00:02.000Z",
        finished_epoch=1767225602.0,
        updated_at="2026-01-01T00:00:02.000Z",
    )
    await stores.tasks.update_task(finished)
    assert await stores.tasks.get_task("t1") == finished
    assert await stores.tasks.get_task("missing") is None


async def test_tasks_list_newest_first_in_pages_with_a_total_per_owner(stores):
    for index, owner in enumerate(["alice", "bob", "alice", None]):
        await stores.tasks.insert_task(task(f"t{index}", owner=owner))
    tasks, total = await stores.tasks.list_tasks(10, 0)
    assert [t.task_id for t in tasks] == ["t3", "t2", "t1", "t0"] and total == 4
    tasks, total = await stores.tasks.list_tasks(2, 1)
    assert [t.task_id for t in tasks] == ["t2", "t1"] and total == 4
    tasks, total = await stores.tasks.list_tasks(10, 0, "alice")
    assert [t.task_id for t in tasks] == ["t2", "t0"] and total == 2
    assert await stores.tasks.list_tasks(10, 0, "carol") == ([], 0)


async def test_tasks_finished_in_a_window_oldest_first(stores):
    for task_id, finished in (("late", 300.0), ("early", 100.0), ("edge", 200.0), ("outside", 400.0)):
        await stores.tasks.insert_task(task(task_id, "completed", finished_epoch=finished))
    await stores.tasks.insert_task(task("unfinished", "running"))
    window = await stores.tasks.tasks_finished_between(100.0, 300.0)
    assert [t.task_id for t in window] == ["early", "edge", "late"]


async def test_unfinished_tasks_fail_with_the_reason(stores):
    for task_id, status in (("q", "queued"), ("r", "running"), ("c", "completed"), ("x", "cancelled")):
        await stores.tasks.insert_task(task(task_id, status))
    failed = await stores.tasks.fail_unfinished("the server stopped", "2026-01-02T00:00:00.000Z", 1767312000.0)
    assert failed == 2
    for task_id in ("q", "r"):
        stored = await stores.tasks.get_task(task_id)
        assert (stored.status, stored.error) == ("failed", "the server stopped")
        assert stored.finished_at == stored.updated_at == "2026-01-02T00:00:00.000Z"
        assert stored.finished_epoch == 1767312000.0
    assert [(await stores.tasks.get_task(t)).status for t in ("c", "x")] == ["completed", "cancelled"]
    assert await stores.tasks.fail_unfinished("again", "2026-01-03T00:00:00.000Z", 1767398400.0) == 0


async def test_an_unfinished_task_left_behind_is_cancelled_with_the_reason(stores):
    # Inserted by this process, which runs none of them: all left behind.
    for task_id, status in (("q", "queued"), ("r", "running"), ("c", "completed")):
        await stores.tasks.insert_task(task(task_id, status))
    for task_id in ("q", "r"):
        cancelled = await stores.tasks.cancel_left_behind(task_id, "cancelled by request", "2026-01-02T00:00:00.000Z", 1767312000.0)
        assert cancelled == await stores.tasks.get_task(task_id)
        assert (cancelled.status, cancelled.error) == ("cancelled", "cancelled by request")
        assert cancelled.finished_at == cancelled.updated_at == "2026-01-02T00:00:00.000Z"
        assert cancelled.finished_epoch == 1767312000.0
    assert await stores.tasks.cancel_left_behind("c", "late", "2026-01-03T00:00:00.000Z", 0.0) is None
    assert await stores.tasks.cancel_left_behind("missing", "late", "2026-01-03T00:00:00.000Z", 0.0) is None
    assert (await stores.tasks.get_task("c")).status == "completed"


async def test_a_cancel_is_requested_only_of_an_unfinished_task(stores):
    for task_id, status in (("q", "queued"), ("r", "running"), ("c", "completed"), ("x", "cancelled")):
        await stores.tasks.insert_task(task(task_id, status))
    requested = [await stores.tasks.request_cancel(t, "2026-01-02T00:00:00.000Z") for t in ("q", "r", "c", "x", "missing")]
    assert requested == [True, True, False, False, False]
    # The request changes none of the task's fields: its process stops it.
    assert (await stores.tasks.get_task("r")).status == "running"


async def test_samples_read_back_in_a_window_oldest_first_and_prune(stores):
    for epoch in (300.0, 100.0, 200.0, 50.0):
        await stores.samples.insert_sample(sample(epoch))
    assert await stores.samples.samples_between(100.0, 300.0) == [sample(100.0), sample(200.0), sample(300.0)]
    assert await stores.samples.prune_samples(200.0) == 2
    assert [s.epoch for s in await stores.samples.samples_between(0.0, 1000.0)] == [200.0, 300.0]
