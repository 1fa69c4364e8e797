"""The /ml-api/ document and MLService through the real server, Envoy and
fine-tuning worker processes, with a tiny llama model built on the fly."""

from __future__ import annotations

import asyncio
import datetime
import json
import os

import grpc
import pytest
import pytest_asyncio

from agentruntime.v1 import ml_pb2, ml_pb2_grpc
from conftest import grpc_metadata, http_client, make_settings, running
from ml_helpers import build_model, chat_examples, to_jsonl

pytestmark = pytest.mark.slow

# A fixed seed fixes the LoRA initialisation and the batch order, so a job
# trains the same model every run (greedy decoding then gives the same text).
FAST = {"n_steps": 40, "batch_size": 4, "learning_rate": 0.001, "eval_every": 20, "checkpoint_every": 10,
        "max_seq_length": 64, "report_every": 5, "seed": 0}


@pytest_asyncio.fixture(scope="module")
async def ml_runtime(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("ml-data")
    build_model(data_dir / "models" / "tiny")
    async with running(make_settings(data_dir, ml={"max_file_bytes": 64 * 1024})) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def http(ml_runtime):
    async with http_client(ml_runtime) as client:
        yield client


@pytest_asyncio.fixture(scope="module")
async def ml(ml_runtime):
    async with grpc.aio.insecure_channel(ml_runtime.grpc_target) as channel:
        yield ml_pb2_grpc.MLServiceStub(channel)


def is_iso(text: str) -> bool:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["detail"] and is_iso(body["timestamp"]), body
    return body


async def upload(http, rows, purpose="fine-tune") -> str:
    response = await http.post(
        "/ml-api/files/", params={"filename": "train.jsonl", "purpose": purpose}, content=to_jsonl(rows),
        headers={"content-type": "application/jsonl"},
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def watch(ml, job_id: str, until=None, after: int = 0) -> list:
    """Collects the job's events until it finishes (or `until(event)`)."""
    events = []
    call = ml.WatchFineTuningJob(ml_pb2.WatchFineTuningJobRequest(job_id=job_id, after_sequence=after),
                                 metadata=grpc_metadata(), timeout=120)
    async for event in call:
        events.append(event)
        if until is not None and until(event):
            call.cancel()
            break
    return events


async def test_ml_root_reports_mlx(http):
    response = await http.get("/ml-api/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"status": "online", "version": body["version"], "message": "ML Infrastructure API is running",
                    "ml_client_available": True}


async def test_discovered_model_is_listed_as_documented(http):
    response = await http.get("/ml-api/models/")
    assert response.status_code == 200, response.text
    models = response.json()
    assert isinstance(models, list)
    tiny = next(m for m in models if m["id"] == "tiny")
    assert set(tiny) == {"id", "name", "version", "description", "parameters", "created_at", "updated_at"}
    assert tiny["parameters"]["temperature"] == 0.7 and tiny["parameters"]["max_tokens"] == 512
    assert isinstance(tiny["parameters"]["context_length"], int)
    assert is_iso(tiny["created_at"]) and is_iso(tiny["updated_at"])
    one = await http.get("/ml-api/models/tiny/")
    assert one.status_code == 200 and one.json() == tiny
    assert_error(await http.get("/ml-api/models/nope/"), 404, "MODEL_NOT_FOUND")


async def test_grpc_model_parameters_are_text(ml):
    response = await ml.GetModel(ml_pb2.GetModelRequest(model_id="tiny"), metadata=grpc_metadata())
    assert response.model.parameters["temperature"] == "0.7"
    listed = await ml.ListModels(ml_pb2.ListModelsRequest(), metadata=grpc_metadata())
    assert "tiny" in [m.id for m in listed.models]


async def test_register_model_from_a_path(http, ml_runtime):
    path = str(ml_runtime.settings.data_dir / "models" / "tiny")
    response = await http.post("/ml-api/models/", json={"path": path, "id": "tiny-copy", "parameters": {"temperature": 0.2}})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == "tiny-copy"
    got = (await http.get("/ml-api/models/tiny-copy/")).json()
    assert got["parameters"]["temperature"] == 0.2
    assert_error(await http.post("/ml-api/models/", json={"path": path, "id": "tiny-copy"}), 409, "MODEL_EXISTS")
    body = assert_error(await http.post("/ml-api/models/", json={"path": "/nonexistent/model"}), 400, "BAD_REQUEST")
    assert "not a directory" in body["detail"]
    body = assert_error(await http.post("/ml-api/models/", json={"path": str(ml_runtime.settings.data_dir)}), 400, "BAD_REQUEST")
    assert "config.json" in body["detail"]


async def test_files_upload_list_get_delete(http):
    raw_id = await upload(http, chat_examples(8))
    assert raw_id.startswith("file-")
    as_json = await http.post("/ml-api/files/", json={"filename": "v.jsonl", "purpose": "fine-tune-validation",
                                                        "data": chat_examples(4, seed=1)})
    assert as_json.status_code == 200, as_json.text
    record = as_json.json()
    assert record["object"] == "file" and record["line_count"] == 4 and record["format"] == "chat"
    assert record["filename"] == "v.jsonl" and record["purpose"] == "fine-tune-validation" and record["bytes"] > 0
    listed = (await http.get("/ml-api/files/")).json()
    assert listed["object"] == "list" and {raw_id, record["id"]} <= {f["id"] for f in listed["data"]}
    got = await http.get(f"/ml-api/files/{raw_id}/")
    assert got.status_code == 200 and got.json()["line_count"] == 8
    deleted = await http.delete(f"/ml-api/files/{record['id']}/")
    assert deleted.json() == {"id": record["id"], "object": "file", "deleted": True}
    assert_error(await http.get(f"/ml-api/files/{record['id']}/"), 404, "FILE_NOT_FOUND")


async def test_malformed_jsonl_names_the_lines(http):
    content = b'{"text": "fine"}\nnot json\n{"text": 3}\n\n{"prompt": "a", "completion": "b"}\n'
    response = await http.post("/ml-api/files/", content=content, headers={"content-type": "text/plain"})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "line 2" in body["detail"] and "line 3" in body["detail"] and "line 5" in body["detail"]
    assert body["detail"].startswith("JSONL has 3 invalid line(s): line 2: not valid JSON")
    assert set(body["errors"]) == {"line 2", "line 3", "line 5"}
    assert_error(await http.post("/ml-api/files/", content=b"\n\n", headers={"content-type": "text/plain"}),
                 400, "VALIDATION_ERROR")
    assert_error(await http.post("/ml-api/files/", content=b"[1,", headers={"content-type": "application/json"}),
                 400, "BAD_REQUEST")


async def test_file_over_the_limit_is_413(http):
    big = to_jsonl(chat_examples(2000))
    assert len(big) > 64 * 1024
    assert_error(await http.post("/ml-api/files/", content=big, headers={"content-type": "text/plain"}),
                 413, "PAYLOAD_TOO_LARGE")


async def test_bad_job_requests_are_documented_4xx(http):
    train = await upload(http, chat_examples(8))
    assert_error(await http.post("/ml-api/fine-tuning-jobs/", json={"model_id": "nope", "training_file": train}),
                 404, "MODEL_NOT_FOUND")
    assert_error(await http.post("/ml-api/fine-tuning-jobs/", json={"model_id": "tiny", "training_file": "file-missing"}),
                 404, "FILE_NOT_FOUND")
    assert_error(await http.post("/ml-api/fine-tuning-jobs/", json={"model_id": "tiny"}), 400, "BAD_REQUEST")
    assert_error(
        await http.post("/ml-api/fine-tuning-jobs/", json={"model_id": "tiny", "training_file": train,
                                                            "compute_config": {"instance_count": 4}}),
        400, "BAD_REQUEST",
    )
    assert_error(await http.get("/ml-api/fine-tuning-jobs/ft-missing/"), 404, "JOB_NOT_FOUND")
    assert_error(await http.post("/ml-api/fine-tuning-jobs/ft-missing/cancel/"), 404, "JOB_NOT_FOUND")


@pytest.mark.long
async def test_fine_tune_loss_falls_job_succeeds_and_model_generates(http, ml, ml_runtime):
    train = await upload(http, chat_examples(48))
    valid = await upload(http, chat_examples(8, seed=7), purpose="fine-tune-validation")
    response = await http.post(
        "/ml-api/fine-tuning-jobs/",
        json={"model_id": "tiny", "training_file": train, "validation_file": valid, "suffix": "colors",
              "compute_config": {"instance_type": "g4dn.xlarge", "instance_count": 1}, "hyperparameters": FAST},
    )
    assert response.status_code == 200, response.text
    job = response.json()
    assert set(job) == {"id", "model_id", "status", "created_at", "updated_at", "fine_tuned_model", "training_file",
                        "validation_file", "metrics", "error"}
    assert job["status"] == "created" and job["fine_tuned_model"] is None and job["metrics"] is None
    assert job["error"] is None and job["id"].startswith("ft-") and job["validation_file"] == valid

    events = await watch(ml, job["id"])
    statuses = [e.status for e in events if e.type == "status"]
    assert statuses == ["created", "queued", "running", "succeeded"], [e.message for e in events]
    losses = [e.metrics["loss"] for e in events if e.type == "metrics" and "loss" in e.metrics]
    assert len(losses) >= 4 and losses[-1] < losses[0] * 0.7, losses
    accuracies = [e.metrics["accuracy"] for e in events if "accuracy" in e.metrics]
    assert accuracies and accuracies[-1] > accuracies[0]
    assert [e.step for e in events if e.type == "checkpoint"] == [10, 20, 30]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))

    done = (await http.get(f"/ml-api/fine-tuning-jobs/{job['id']}/")).json()
    assert done["status"] == "succeeded" and done["error"] is None
    assert done["fine_tuned_model"] == f"tiny:colors:{job['id']}"
    assert done["metrics"]["loss"] == pytest.approx(losses[-1], rel=1e-3)
    assert 0 <= done["metrics"]["accuracy"] <= 1 and done["metrics"]["step"] == 40
    listed = (await http.get("/ml-api/fine-tuning-jobs/")).json()
    assert job["id"] in [j["id"] for j in listed]
    model = await http.get(f"/ml-api/models/{done['fine_tuned_model']}/")
    assert model.status_code == 200, model.text
    assert_error(await http.post(f"/ml-api/fine-tuning-jobs/{job['id']}/cancel/"), 400, "JOB_NOT_CANCELLABLE")

    pieces = [
        piece
        async for piece in ml_runtime.inference.stream_chat(
            done["fine_tuned_model"], [{"role": "user", "content": "color of red?"}], max_tokens=16, temperature=0.0
        )
    ]
    assert len(pieces) > 1
    assert "".join(pieces).startswith("The color is")


async def test_same_seed_same_training(http, ml):
    # Two jobs with the same files and seed: the same loss at every report,
    # whatever else the machine is doing (the batch order is seeded too).
    train = await upload(http, chat_examples(48))
    hyperparameters = {**FAST, "n_steps": 10, "eval_every": 10, "checkpoint_every": 10}
    runs = []
    for _ in range(2):
        response = await http.post(
            "/ml-api/fine-tuning-jobs/", json={"model_id": "tiny", "training_file": train, "hyperparameters": hyperparameters}
        )
        assert response.status_code == 200, response.text
        events = await watch(ml, response.json()["id"])
        assert [e.status for e in events if e.type == "status"][-1] == "succeeded"
        runs.append([(e.step, e.metrics["loss"]) for e in events if e.type == "metrics" and "loss" in e.metrics])
    assert len(runs[0]) == 2 and runs[0] == runs[1]


async def test_stream_chat_errors(ml_runtime):
    from agent_runtime.errors import InvalidArgument, NotFound

    with pytest.raises(NotFound):
        async for _ in ml_runtime.inference.stream_chat("nope", [{"role": "user", "content": "x"}], max_tokens=4, temperature=0):
            pass
    with pytest.raises(InvalidArgument):
        async for _ in ml_runtime.inference.stream_chat("tiny", [], max_tokens=4, temperature=0):
            pass
    text = "".join([p async for p in ml_runtime.inference.stream_chat("tiny", [{"role": "user", "content": "hi"}],
                                                            max_tokens=5, temperature=0.0)])
    assert isinstance(text, str)


async def test_queue_runs_one_job_at_a_time_and_cancel_stops_the_worker(http, ml, ml_runtime):
    train = await upload(http, chat_examples(16))
    slow = {**FAST, "n_steps": 100000, "eval_every": 100000, "checkpoint_every": 100000}
    first = (await http.post("/ml-api/fine-tuning-jobs/", json={"model_id": "tiny", "training_file": train,
                                                                 "hyperparameters": slow})).json()
    second = (await http.post("/ml-api/fine-tuning-jobs/", json={"model_id": "tiny", "training_file": train,
                                                                  "hyperparameters": slow})).json()
    await watch(ml, first["id"], until=lambda e: e.type == "metrics")
    assert (await http.get(f"/ml-api/fine-tuning-jobs/{first['id']}/")).json()["status"] == "running"
    assert (await http.get(f"/ml-api/fine-tuning-jobs/{second['id']}/")).json()["status"] == "queued"
    # A file used by an unfinished job cannot go.
    assert_error(await http.delete(f"/ml-api/files/{train}/"), 409, "CONFLICT")

    queued_cancel = await http.post(f"/ml-api/fine-tuning-jobs/{second['id']}/cancel/")
    assert queued_cancel.json() == {"status": "success", "message": f"Job {second['id']} cancelled"}
    process = ml_runtime.ml.runner._processes[first["id"]]
    started = asyncio.get_running_loop().time()
    cancelled = await http.post(f"/ml-api/fine-tuning-jobs/{first['id']}/cancel/")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json() == {"status": "success", "message": f"Job {first['id']} cancelled"}
    assert process.returncode is not None and asyncio.get_running_loop().time() - started < 5
    for job_id in (first["id"], second["id"]):
        job = (await http.get(f"/ml-api/fine-tuning-jobs/{job_id}/")).json()
        assert job["status"] == "cancelled" and job["fine_tuned_model"] is None
        events = await watch(ml, job_id)
        assert events[-1].status == "cancelled"
    assert_error(await http.post(f"/ml-api/fine-tuning-jobs/{first['id']}/cancel/"), 400, "JOB_NOT_CANCELLABLE")
    deleted = await http.delete(f"/ml-api/files/{train}/")
    assert deleted.status_code == 200


@pytest.mark.long
async def test_a_cancelled_job_resumes_from_its_last_checkpoint_and_finishes(http, ml):
    train = await upload(http, chat_examples(16))
    job = (await http.post("/ml-api/fine-tuning-jobs/", json={"model_id": "tiny", "training_file": train,
                                                               "hyperparameters": {**FAST, "n_steps": 60}})).json()
    before = await watch(ml, job["id"], until=lambda e: e.type == "checkpoint")
    assert (await http.post(f"/ml-api/fine-tuning-jobs/{job['id']}/cancel/")).status_code == 200
    cancelled = await watch(ml, job["id"], after=before[-1].sequence)
    assert cancelled[-1].status == "cancelled"

    resumed = await http.post(f"/ml-api/fine-tuning-jobs/{job['id']}/resume/")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["id"] == job["id"] and resumed.json()["status"] == "queued"
    after = await watch(ml, job["id"], after=cancelled[-1].sequence)
    statuses = [(e.status, e.message) for e in after if e.type == "status"]
    checkpoint = max(e.step for e in before + cancelled if e.type == "checkpoint")
    assert statuses[0] == ("queued", f"resumed: queued to continue from the checkpoint of step {checkpoint}")
    assert statuses[1] == ("running", f"running (resuming at step {checkpoint})")
    assert statuses[-1][0] == "succeeded"
    # Training went on from the checkpoint, not from step 0.
    assert min(e.step for e in after if e.type == "metrics") > checkpoint
    assert_error(await http.post(f"/ml-api/fine-tuning-jobs/{job['id']}/resume/"), 400, "JOB_NOT_RESUMABLE")
    assert_error(await http.post("/ml-api/fine-tuning-jobs/ft-missing/resume/"), 404, "JOB_NOT_FOUND")


async def test_grpc_create_job_with_documented_fields(ml):
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ml.CreateFineTuningJob(
            ml_pb2.CreateFineTuningJobRequest(model_id="tiny", training_file="file-nope"), metadata=grpc_metadata()
        )
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_worker_failure_fails_the_job_with_the_reason(http, ml, ml_runtime, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(ml_runtime.settings.data_dir / "models" / "tiny", broken)
    registered = await http.post("/ml-api/models/", json={"path": str(broken), "id": "broken"})
    assert registered.status_code == 200, registered.text
    (broken / "model.safetensors").write_bytes(b"not weights")
    train = await upload(http, chat_examples(8))
    job = (await http.post("/ml-api/fine-tuning-jobs/", json={"model_id": "broken", "training_file": train,
                                                               "hyperparameters": FAST})).json()
    events = await watch(ml, job["id"])
    assert events[-1].status == "failed"
    failed = (await http.get(f"/ml-api/fine-tuning-jobs/{job['id']}/")).json()
    assert failed["status"] == "failed" and failed["error"] and failed["fine_tuned_model"] is None
    assert failed["error"] in events[-1].message
