"""Fine-tuning jobs across server restarts: a killed server's job resumes from
its last checkpoint; a graceful stop checkpoints and resumes; a job with no
checkpoint fails with the reason."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import subprocess
import sys

import grpc
import pytest
from google.api import httpbody_pb2

from agentruntime.v1 import ml_pb2, ml_pb2_grpc
from agent_helpers import wait_for
from conftest import TEST_API_KEY, grpc_metadata, make_settings, running
from ml_helpers import build_model, chat_examples, to_jsonl
from ports import free_port

pytestmark = pytest.mark.slow
ROOT = pathlib.Path(__file__).resolve().parents[1]


def hyperparameters(**overrides) -> ml_pb2.Hyperparameters:
    values = dict(n_steps=60, batch_size=4, learning_rate=0.001, eval_every=1000, checkpoint_every=10,
                  max_seq_length=64, report_every=5)
    values.update(overrides)
    return ml_pb2.Hyperparameters(**values)


async def create_job(stub, **hp) -> str:
    uploaded = await stub.UploadFile(
        ml_pb2.UploadFileRequest(http_body=httpbody_pb2.HttpBody(content_type="application/jsonl",
                                                                 data=to_jsonl(chat_examples(16)))),
        metadata=grpc_metadata(),
    )
    job = await stub.CreateFineTuningJob(
        ml_pb2.CreateFineTuningJobRequest(model_id="tiny", training_file=uploaded.id, suffix="r",
                                          hyperparameters=hyperparameters(**hp)),
        metadata=grpc_metadata(),
    )
    assert job.status == "created" and not job.HasField("fine_tuned_model")
    return job.id


seen: list[str] = [""]


async def events_until(stub, job_id: str, until, after: int = 0) -> list:
    """Events until `until(event)` is true; `seen[-1]` is the message of the
    last status event before the current one."""
    events = []
    call = stub.WatchFineTuningJob(ml_pb2.WatchFineTuningJobRequest(job_id=job_id, after_sequence=after),
                                   metadata=grpc_metadata(), timeout=120)
    async for event in call:
        events.append(event)
        if event.type == "status":
            seen.append(event.message)
        if until(event):
            call.cancel()
            break
    return events


def children_of(pid: int) -> list[int]:
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.long
async def test_killed_server_job_resumes_from_last_checkpoint(tmp_path):
    build_model(tmp_path / "models" / "tiny")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "agent_runtime", "serve", "--no-envoy", "--grpc-port", str(port),
         "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        env={**os.environ, "AGENT_API_KEY": TEST_API_KEY},
    )
    try:
        line = await asyncio.to_thread(server.stdout.readline)
        while line and "ready" not in line:
            line = await asyncio.to_thread(server.stdout.readline)
        assert "ready" in line
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = ml_pb2_grpc.MLServiceStub(channel)
            job_id = await create_job(stub)
            before = await events_until(stub, job_id, lambda e: e.type == "checkpoint")
        workers = children_of(server.pid)
        assert len(workers) == 1
        server.kill()
        server.wait(10)
        for _ in range(50):
            if not alive(workers[0]):
                break
            await asyncio.sleep(0.1)
        assert not alive(workers[0]), "the worker outlived its server"
    finally:
        if server.poll() is None:
            server.kill()

    checkpoint_step = before[-1].step
    assert checkpoint_step >= 10
    async with running(make_settings(tmp_path, server={"run_envoy": False})) as runtime:
        async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
            stub = ml_pb2_grpc.MLServiceStub(channel)
            after = await events_until(stub, job_id, lambda e: False, after=before[-1].sequence)
            job = await stub.GetFineTuningJob(ml_pb2.GetFineTuningJobRequest(job_id=job_id), metadata=grpc_metadata())
    messages = [e.message for e in after]
    assert any("resume" in m and f"step {checkpoint_step}" in m for m in messages), messages
    resumed_steps = [e.step for e in after if e.type == "metrics"]
    assert resumed_steps and min(resumed_steps) > checkpoint_step
    assert job.status == "succeeded", job
    assert job.fine_tuned_model == f"tiny:r:{job_id}"
    assert job.metrics["step"] == 60


@pytest.mark.long
async def test_graceful_stop_checkpoints_and_resumes(tmp_path):
    build_model(tmp_path / "models" / "tiny")
    settings = make_settings(tmp_path, server={"run_envoy": False})
    async with running(settings) as runtime:
        async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
            stub = ml_pb2_grpc.MLServiceStub(channel)
            job_id = await create_job(stub, checkpoint_every=1000, n_steps=2000)
            await events_until(stub, job_id, lambda e: e.type == "metrics")
    # Stopped: the job is still `running` and has a checkpoint from the stop.
    async with running(settings) as runtime:
        async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
            stub = ml_pb2_grpc.MLServiceStub(channel)
            events = await events_until(stub, job_id, lambda e: e.type == "metrics" and "resuming" in seen[-1])
            checkpoints = [e for e in events if e.type == "checkpoint"]
            # The only checkpoint is the one the worker saved when asked to stop.
            assert len(checkpoints) == 1 and checkpoints[0].step % 1000 != 0
            step = checkpoints[0].step
            assert any(f"resume from the checkpoint of step {step}" in e.message for e in events)
            assert [e.step for e in events if e.type == "metrics"][-1] > step
            await stub.CancelFineTuningJob(ml_pb2.CancelFineTuningJobRequest(job_id=job_id), metadata=grpc_metadata())


async def test_crashed_job_without_checkpoint_fails_with_reason(tmp_path):
    build_model(tmp_path / "models" / "tiny")
    settings = make_settings(tmp_path, server={"run_envoy": False})
    async with running(settings) as runtime:
        async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
            stub = ml_pb2_grpc.MLServiceStub(channel)
            job_id = await create_job(stub, checkpoint_every=100000, n_steps=100000)
            await events_until(stub, job_id, lambda e: e.type == "metrics")
        runtime.ml.runner.abandon()  # as if the server died: no checkpoint, job left `running`
    async with running(settings) as runtime:
        # The new process's claims take the job left behind, in the background.
        job = await wait_for(lambda: runtime.ml.get_job(job_id), lambda found: found.status != "running")
    assert job.status == "failed"
    assert "before the job saved its first checkpoint" in job.error
