"""What server processes on one PostgreSQL database must not do to each
other: a process that starts takes on only the work of processes that are
gone (it fails their unfinished compute tasks, resumes their fine-tuning
jobs), never what another live process runs."""

from __future__ import annotations

import asyncio

from agent_runtime.compute.records import TaskRecord
from agent_runtime.storage.engines import open_storage

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


async def test_a_starting_process_leaves_a_fine_tuning_job_another_live_process_runs(postgres_dsn, tmp_path):
    from agent_runtime.ml.models import JobEvent, JobRecord

    job = JobRecord(
        id="job-1", model_id="base", status="queued", created_at=NOW, updated_at=NOW, fine_tuned_model=None,
        training_file="train", validation_file=None, suffix="s", compute_config={}, hyperparameters={},
        metrics=None, error=None, last_sequence=1, owner_id=None,
    )
    running = await open_storage(tmp_path / "unused.sqlite3", postgres_dsn)
    starting = await open_storage(tmp_path / "unused.sqlite3", postgres_dsn)
    try:
        await running.ml_jobs.add_job(job, JobEvent("job-1", 1, "status", NOW, "queued", "queued"))
        await running.ml_jobs.update_job(
            "job-1", NOW, {"status": "running"}, JobEvent("job-1", 0, "status", NOW, "running", "running"),
            only_if_status=("queued",),
        )
        assert await starting.ml_jobs.jobs_to_recover() == []
        await running.database.close()
        for _ in range(50):
            recovered = await starting.ml_jobs.jobs_to_recover()
            if recovered:
                break
            await asyncio.sleep(0.1)
    finally:
        await starting.database.close()
    assert [j.id for j in recovered] == ["job-1"]
