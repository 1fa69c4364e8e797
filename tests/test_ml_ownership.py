"""A user sees and changes only their own ML training files and fine-tuning
jobs, over REST through Envoy and over gRPC; administrator credentials see
all (identity/ownership.py)."""

from __future__ import annotations

import grpc
import pytest
import pytest_asyncio

from agentruntime.v1 import ml_pb2, ml_pb2_grpc
from conftest import TEST_API_KEY, http_client, make_settings, running
from identity_helpers import bearer, issue_key, new_user
from ml_helpers import build_model, chat_examples, to_jsonl

pytestmark = pytest.mark.slow

ADMIN = {"x-api-key": TEST_API_KEY}
# Long enough never to finish during the module (the jobs are cancelled at
# its end), small per step.
TINY_JOB = {"n_steps": 100000, "batch_size": 2, "max_seq_length": 32, "eval_every": 100000,
            "checkpoint_every": 100000, "report_every": 1000}


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("ml-owners")
    build_model(data_dir / "models" / "tiny")
    async with running(make_settings(data_dir)) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def http(runtime):
    async with http_client(runtime, None) as client:
        yield client


async def upload(http, headers) -> str:
    response = await http.post(
        "/ml-api/files/", params={"filename": "train.jsonl"}, content=to_jsonl(chat_examples(8)),
        headers={**headers, "content-type": "application/jsonl"},
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def create_job(http, headers, file_id) -> str:
    response = await http.post(
        "/ml-api/fine-tuning-jobs/",
        json={"model_id": "tiny", "training_file": file_id, "hyperparameters": TINY_JOB},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


@pytest_asyncio.fixture(scope="module")
async def owned(http):
    """Alice and Bob (JWTs, and Bob's md_ key), each with a file and a job."""
    _, alice_token = await new_user(http, "alice")
    _, bob_token = await new_user(http, "bob")
    alice, bob = bearer(alice_token), bearer(bob_token)
    bob_key = {"x-api-key": (await issue_key(http, bob))["key"]}
    alice_file, bob_file = await upload(http, alice), await upload(http, bob_key)
    alice_job, bob_job = await create_job(http, alice, alice_file), await create_job(http, bob, bob_file)
    yield {
        "alice": alice, "alice_token": alice_token, "bob": bob, "bob_key": bob_key,
        "alice_file": alice_file, "bob_file": bob_file, "alice_job": alice_job, "bob_job": bob_job,
    }
    for job, headers in ((alice_job, alice), (bob_job, bob)):
        await http.post(f"/ml-api/fine-tuning-jobs/{job}/cancel/", headers=headers)


def assert_not_found(response, code: str) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["code"] == code, response.text


async def test_rest_user_sees_only_own_files_and_jobs(http, owned):
    alice = owned["alice"]
    bob_file, bob_job = owned["bob_file"], owned["bob_job"]
    assert_not_found(await http.get(f"/ml-api/files/{bob_file}/", headers=alice), "FILE_NOT_FOUND")
    assert_not_found(await http.delete(f"/ml-api/files/{bob_file}/", headers=alice), "FILE_NOT_FOUND")
    assert_not_found(await http.get(f"/ml-api/fine-tuning-jobs/{bob_job}/", headers=alice), "JOB_NOT_FOUND")
    assert_not_found(await http.post(f"/ml-api/fine-tuning-jobs/{bob_job}/cancel/", headers=alice), "JOB_NOT_FOUND")
    # Training on someone else's file: that file does not exist for her.
    stolen = await http.post("/ml-api/fine-tuning-jobs/", json={"model_id": "tiny", "training_file": bob_file}, headers=alice)
    assert_not_found(stolen, "FILE_NOT_FOUND")
    files = (await http.get("/ml-api/files/", headers=alice)).json()["data"]
    assert [f["id"] for f in files] == [owned["alice_file"]]
    jobs = (await http.get("/ml-api/fine-tuning-jobs/", headers=alice)).json()
    assert [j["id"] for j in jobs] == [owned["alice_job"]]
    # Bob still has both, with his JWT and with his key.
    for headers in (owned["bob"], owned["bob_key"]):
        assert (await http.get(f"/ml-api/files/{bob_file}/", headers=headers)).status_code == 200
        job = await http.get(f"/ml-api/fine-tuning-jobs/{bob_job}/", headers=headers)
        assert job.status_code == 200 and job.json()["status"] != "cancelled"
        assert [f["id"] for f in (await http.get("/ml-api/files/", headers=headers)).json()["data"]] == [bob_file]
    # Models are shared: every user sees the registry.
    assert (await http.get("/ml-api/models/tiny/", headers=alice)).status_code == 200


async def test_administrator_sees_every_file_and_job(http, owned):
    files = {f["id"] for f in (await http.get("/ml-api/files/", headers=ADMIN)).json()["data"]}
    assert {owned["alice_file"], owned["bob_file"]} <= files
    jobs = {j["id"] for j in (await http.get("/ml-api/fine-tuning-jobs/", headers=ADMIN)).json()}
    assert {owned["alice_job"], owned["bob_job"]} <= jobs
    assert (await http.get(f"/ml-api/files/{owned['bob_file']}/", headers=ADMIN)).status_code == 200
    assert (await http.get(f"/ml-api/fine-tuning-jobs/{owned['alice_job']}/", headers=ADMIN)).status_code == 200
    # What an administrator uploads has no owner: only administrators see it.
    admin_file = await upload(http, ADMIN)
    assert_not_found(await http.get(f"/ml-api/files/{admin_file}/", headers=owned["alice"]), "FILE_NOT_FOUND")
    assert (await http.delete(f"/ml-api/files/{admin_file}/", headers=ADMIN)).status_code == 200


async def test_grpc_user_gets_not_found_for_other_users_file_and_job(runtime, owned):
    alice = (("authorization", owned["alice"]["authorization"]),)
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = ml_pb2_grpc.MLServiceStub(channel)
        for call in (
            stub.GetFile(ml_pb2.GetFileRequest(file_id=owned["bob_file"]), metadata=alice),
            stub.DeleteFile(ml_pb2.DeleteFileRequest(file_id=owned["bob_file"]), metadata=alice),
            stub.GetFineTuningJob(ml_pb2.GetFineTuningJobRequest(job_id=owned["bob_job"]), metadata=alice),
            stub.CancelFineTuningJob(ml_pb2.CancelFineTuningJobRequest(job_id=owned["bob_job"]), metadata=alice),
            stub.CreateFineTuningJob(
                ml_pb2.CreateFineTuningJobRequest(model_id="tiny", training_file=owned["bob_file"]), metadata=alice
            ),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await call
            assert failure.value.code() == grpc.StatusCode.NOT_FOUND
        watch = stub.WatchFineTuningJob(ml_pb2.WatchFineTuningJobRequest(job_id=owned["bob_job"]), metadata=alice)
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await watch.read()
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND
        files = await stub.ListFiles(ml_pb2.ListFilesRequest(), metadata=alice)
        assert [f.id for f in files.data] == [owned["alice_file"]]
        jobs = await stub.ListFineTuningJobs(ml_pb2.ListFineTuningJobsRequest(), metadata=alice)
        assert [j.id for j in jobs.jobs] == [owned["alice_job"]]
        mine = await stub.GetFineTuningJob(ml_pb2.GetFineTuningJobRequest(job_id=owned["alice_job"]), metadata=alice)
        assert mine.id == owned["alice_job"]
        admin = (("x-api-key", TEST_API_KEY),)
        both = await stub.ListFiles(ml_pb2.ListFilesRequest(), metadata=admin)
        assert {owned["alice_file"], owned["bob_file"]} <= {f.id for f in both.data}


async def test_owner_cancels_own_job(http, owned):
    cancelled = await http.post(f"/ml-api/fine-tuning-jobs/{owned['bob_job']}/cancel/", headers=owned["bob"])
    assert cancelled.status_code == 200, cancelled.text
    job = (await http.get(f"/ml-api/fine-tuning-jobs/{owned['bob_job']}/", headers=owned["bob_key"])).json()
    assert job["status"] == "cancelled"


async def test_registering_a_model_needs_an_administrator(http, owned, runtime):
    """Registering reads a server path: a user would probe the server's files
    with it ({"path": "/etc"} answered "has no config.json")."""
    for headers in (owned["alice"], owned["bob_key"]):
        for path in ("/etc", str(runtime.settings.data_dir / "models" / "tiny")):
            denied = await http.post("/ml-api/models/", json={"path": path, "id": "mine"}, headers=headers)
            assert denied.status_code == 403, denied.text
            body = denied.json()
            assert body["code"] == "FORBIDDEN" and "administrator" in body["detail"], body
            assert "config.json" not in body["detail"]
    assert (await http.get("/ml-api/models/mine/", headers=ADMIN)).status_code == 404
    registered = await http.post(
        "/ml-api/models/", json={"path": str(runtime.settings.data_dir / "models" / "tiny"), "id": "by-admin"}, headers=ADMIN
    )
    assert registered.status_code == 200, registered.text
