"""Fine-tuning jobs that move between processes on one PostgreSQL and one
data dir (ml/job_leases.py): a job accepted by a process with no free slot
runs on another, a cancel reaches it there and a resume makes it claimable
again, and a job whose process was killed resumes on another from its last
checkpoint once its lease expired."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import subprocess
import sys

import grpc
import pytest

from agentruntime.v1 import ml_pb2_grpc
from agent_runtime.server import WorkerRole, start_runtime
from conftest import TEST_API_KEY, make_settings
from ml_helpers import build_model, chat_examples, to_jsonl
from ports import free_port
from test_ml_restart import create_job, events_until

pytestmark = pytest.mark.slow
ROOT = pathlib.Path(__file__).resolve().parents[1]
LEASE_SECONDS = 2


def settings_for(data_dir: pathlib.Path, dsn: str):
    return make_settings(
        data_dir, database_url=dsn, server={"run_envoy": False},
        ml={"max_concurrent_jobs": 1, "job_lease_seconds": LEASE_SECONDS},
    )


async def lease_owner(runtime, job_id: str) -> str | None:
    row = await runtime.database.fetch_one("SELECT lease_owner FROM ml_jobs WHERE id = ?", (job_id,))
    return row["lease_owner"]


async def until(condition, seconds: float = 60):
    for _ in range(int(seconds * 10)):
        found = await condition()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def a_job(runtime, n_steps: int) -> str:
    uploaded = await runtime.ml.upload_file(to_jsonl(chat_examples(16)), "application/jsonl")
    job = await runtime.ml.create_job(
        "tiny", uploaded.id, suffix="m",
        hyperparameters={"n_steps": n_steps, "batch_size": 4, "checkpoint_every": 10, "max_seq_length": 64,
                         "report_every": 5},
    )
    return job.id


async def test_a_job_accepted_by_a_busy_process_runs_on_an_idle_one_and_is_cancelled_there(postgres_dsn, tmp_path):
    build_model(tmp_path / "models" / "tiny")
    settings = settings_for(tmp_path, postgres_dsn)
    busy = await start_runtime(settings, WorkerRole("secret", 0))
    try:
        first = await a_job(busy, n_steps=100000)
        assert await until(lambda: busy_running(busy, first))
        idle = await start_runtime(settings, WorkerRole("secret", 1))
        try:
            idle_owner = (tmp_path / "workers" / "worker-1" / "ml-lease-owner").read_text()
            second = await a_job(busy, n_steps=100000)
            assert await until(lambda: busy_running(idle, second))
            assert await lease_owner(busy, second) == idle_owner
            assert busy.ml.runner.is_running(first) and not busy.ml.runner.is_running(second)
            # Cancelled through the process that accepted it, it stops where it runs.
            await busy.ml.cancel_job(second)
            assert await until(lambda: not_running(idle, second))
            # Resumed there too, it is claimable again: by the process with a free slot.
            await busy.ml.resume_job(second)
            assert await until(lambda: busy_running(idle, second))
            await busy.ml.cancel_job(second)
            await busy.ml.cancel_job(first)
        finally:
            await idle.stop()
    finally:
        await busy.stop()


async def ready(log_path: pathlib.Path) -> bool:
    return "ready" in log_path.read_text()


async def busy_running(runtime, job_id: str) -> bool:
    return runtime.ml.runner.is_running(job_id) and (await runtime.ml.get_job(job_id)).status == "running"


async def not_running(runtime, job_id: str) -> bool:
    return not runtime.ml.runner.is_running(job_id)


async def test_a_job_whose_process_was_killed_finishes_on_another_from_its_checkpoint(postgres_dsn, tmp_path):
    build_model(tmp_path / "models" / "tiny")
    port = free_port()
    log_path = tmp_path / "killed.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "agent_runtime", "serve", "--no-envoy", "--grpc-port", str(port),
             "--data-dir", str(tmp_path)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "AGENT_API_KEY": TEST_API_KEY, "DATABASE_URL": postgres_dsn,
                 "ML_JOB_LEASE_SECONDS": str(LEASE_SECONDS)},
        )
    try:
        await until(lambda: ready(log_path))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = ml_pb2_grpc.MLServiceStub(channel)
            job_id = await create_job(stub)
            before = await events_until(stub, job_id, lambda e: e.type == "checkpoint")
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        # A process beside it (a worker of its data dir): it claims the job once its lease expired.
        other = await start_runtime(settings_for(tmp_path, postgres_dsn), WorkerRole("secret", 0))
        try:
            checkpoint = before[-1].step
            after = [event async for event in other.ml.watch_job(job_id, before[-1].sequence)]
            job = await other.ml.get_job(job_id)
        finally:
            await other.stop()
    finally:
        if server.poll() is None:
            server.kill()
    messages = [event.message for event in after]
    assert any(f"resume from the checkpoint of step {checkpoint}" in m for m in messages), messages
    resumed_steps = [event.step for event in after if event.type == "metrics"]
    assert resumed_steps and min(resumed_steps) > checkpoint
    assert job.status == "succeeded" and job.fine_tuned_model == f"tiny:r:{job_id}"
    assert job.metrics["step"] == 60
