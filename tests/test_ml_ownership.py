"""A user sees and changes only their own ML training files and fine-tuning
jobs; administrator credentials see all (identity/ownership.py). On the
bare gRPC server (the jobs' training workers are processes, hence slow);
Envoy's part, the REST answers of these errors, is the error model's
(test_error_model.py, test_sessions_rest.py) and the route table's
(test_auth_routes.py: RegisterModel is 403 for users through Envoy)."""

from __future__ import annotations

import contextlib
import grpc
import pytest
import pytest_asyncio
from google.api import httpbody_pb2

from agentruntime.v1 import ml_pb2, ml_pb2_grpc
from conftest import TEST_API_KEY, make_settings, running_without_envoy
from grpc_errors import error_info, refusal, stream_refusal
from identity_helpers import bearer, grpc_issue_key, grpc_new_user
from ml_helpers import build_model, chat_examples, to_jsonl

pytestmark = pytest.mark.slow

ADMIN = (("x-api-key", TEST_API_KEY),)
# Long enough never to finish during the module (the jobs are cancelled at
# its end), small per step.
TINY_JOB = ml_pb2.Hyperparameters(
    n_steps=100000, batch_size=2, max_seq_length=32, eval_every=100000, checkpoint_every=100000, report_every=1000
)
FILE_NOT_FOUND = (grpc.StatusCode.NOT_FOUND, "FILE_NOT_FOUND")
JOB_NOT_FOUND = (grpc.StatusCode.NOT_FOUND, "JOB_NOT_FOUND")


@pytest_asyncio.fixture(scope="module")
async def served(tmp_path_factory):
    """The runtime (its models directory) and a channel to it."""
    data_dir = tmp_path_factory.mktemp("ml-owners")
    build_model(data_dir / "models" / "tiny")
    async with running_without_envoy(make_settings(data_dir)) as pair:
        yield pair


@pytest_asyncio.fixture(scope="module")
async def stub(served):
    return ml_pb2_grpc.MLServiceStub(served[1])


async def upload(stub, metadata) -> str:
    body = httpbody_pb2.HttpBody(content_type="application/jsonl", data=to_jsonl(chat_examples(8)))
    return (await stub.UploadFile(ml_pb2.UploadFileRequest(http_body=body, filename="train.jsonl"), metadata=metadata)).id


async def create_job(stub, metadata, file_id) -> str:
    request = ml_pb2.CreateFineTuningJobRequest(model_id="tiny", training_file=file_id, hyperparameters=TINY_JOB)
    return (await stub.CreateFineTuningJob(request, metadata=metadata)).id


def metadata(headers: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(headers.items())


@pytest_asyncio.fixture(scope="module")
async def owned(served, stub):
    """Alice and Bob (JWTs, and Bob's md_ key), each with a file and a job."""
    channel = served[1]
    _, alice_token = await grpc_new_user(channel, "alice")
    _, bob_token = await grpc_new_user(channel, "bob")
    alice, bob = metadata(bearer(alice_token)), metadata(bearer(bob_token))
    bob_key = (("x-api-key", (await grpc_issue_key(channel, bearer(bob_token))).key),)
    alice_file, bob_file = await upload(stub, alice), await upload(stub, bob_key)
    alice_job, bob_job = await create_job(stub, alice, alice_file), await create_job(stub, bob, bob_file)
    yield {
        "alice": alice, "bob": bob, "bob_key": bob_key,
        "alice_file": alice_file, "bob_file": bob_file, "alice_job": alice_job, "bob_job": bob_job,
    }
    for job, owner in ((alice_job, alice), (bob_job, bob)):
        # A test may have cancelled it already (FAILED_PRECONDITION then).
        with contextlib.suppress(grpc.aio.AioRpcError):
            await stub.CancelFineTuningJob(ml_pb2.CancelFineTuningJobRequest(job_id=job), metadata=owner)


async def test_user_gets_not_found_for_other_users_file_and_job(stub, owned):
    alice, bob_file, bob_job = owned["alice"], owned["bob_file"], owned["bob_job"]
    assert await refusal(stub.GetFile(ml_pb2.GetFileRequest(file_id=bob_file), metadata=alice)) == FILE_NOT_FOUND
    assert await refusal(stub.DeleteFile(ml_pb2.DeleteFileRequest(file_id=bob_file), metadata=alice)) == FILE_NOT_FOUND
    assert await refusal(stub.GetFineTuningJob(ml_pb2.GetFineTuningJobRequest(job_id=bob_job), metadata=alice)) == JOB_NOT_FOUND
    cancel = stub.CancelFineTuningJob(ml_pb2.CancelFineTuningJobRequest(job_id=bob_job), metadata=alice)
    assert await refusal(cancel) == JOB_NOT_FOUND
    watch = stub.WatchFineTuningJob(ml_pb2.WatchFineTuningJobRequest(job_id=bob_job), metadata=alice)
    assert await stream_refusal(watch) == JOB_NOT_FOUND
    # Training on someone else's file: that file does not exist for her.
    stolen = ml_pb2.CreateFineTuningJobRequest(model_id="tiny", training_file=bob_file)
    assert await refusal(stub.CreateFineTuningJob(stolen, metadata=alice)) == FILE_NOT_FOUND
    files = await stub.ListFiles(ml_pb2.ListFilesRequest(), metadata=alice)
    assert [f.id for f in files.data] == [owned["alice_file"]]
    jobs = await stub.ListFineTuningJobs(ml_pb2.ListFineTuningJobsRequest(), metadata=alice)
    assert [j.id for j in jobs.jobs] == [owned["alice_job"]]
    mine = await stub.GetFineTuningJob(ml_pb2.GetFineTuningJobRequest(job_id=owned["alice_job"]), metadata=alice)
    assert mine.id == owned["alice_job"]
    # Bob still has both, with his JWT and with his key.
    for bob in (owned["bob"], owned["bob_key"]):
        assert (await stub.GetFile(ml_pb2.GetFileRequest(file_id=bob_file), metadata=bob)).id == bob_file
        job = await stub.GetFineTuningJob(ml_pb2.GetFineTuningJobRequest(job_id=bob_job), metadata=bob)
        assert job.status != "cancelled"
        assert [f.id for f in (await stub.ListFiles(ml_pb2.ListFilesRequest(), metadata=bob)).data] == [bob_file]
    # Models are shared: every user sees the registry.
    assert (await stub.GetModel(ml_pb2.GetModelRequest(model_id="tiny"), metadata=alice)).model.id == "tiny"


async def test_administrator_sees_every_file_and_job(stub, owned):
    files = {f.id for f in (await stub.ListFiles(ml_pb2.ListFilesRequest(), metadata=ADMIN)).data}
    assert {owned["alice_file"], owned["bob_file"]} <= files
    jobs = {j.id for j in (await stub.ListFineTuningJobs(ml_pb2.ListFineTuningJobsRequest(), metadata=ADMIN)).jobs}
    assert {owned["alice_job"], owned["bob_job"]} <= jobs
    assert (await stub.GetFile(ml_pb2.GetFileRequest(file_id=owned["bob_file"]), metadata=ADMIN)).id == owned["bob_file"]
    job = await stub.GetFineTuningJob(ml_pb2.GetFineTuningJobRequest(job_id=owned["alice_job"]), metadata=ADMIN)
    assert job.id == owned["alice_job"]
    # What an administrator uploads has no owner: only administrators see it.
    admin_file = await upload(stub, ADMIN)
    assert await refusal(stub.GetFile(ml_pb2.GetFileRequest(file_id=admin_file), metadata=owned["alice"])) == FILE_NOT_FOUND
    await stub.DeleteFile(ml_pb2.DeleteFileRequest(file_id=admin_file), metadata=ADMIN)


async def test_owner_cancels_own_job(stub, owned):
    await stub.CancelFineTuningJob(ml_pb2.CancelFineTuningJobRequest(job_id=owned["bob_job"]), metadata=owned["bob"])
    job = await stub.GetFineTuningJob(ml_pb2.GetFineTuningJobRequest(job_id=owned["bob_job"]), metadata=owned["bob_key"])
    assert job.status == "cancelled"


async def test_registering_a_model_needs_an_administrator(stub, owned, served):
    """Registering reads a server path: a user would probe the server's files
    with it ({"path": "/etc"} answered "has no config.json")."""
    tiny = str(served[0].settings.data_dir / "models" / "tiny")
    for user in (owned["alice"], owned["bob_key"]):
        for path in ("/etc", tiny):
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await stub.RegisterModel(ml_pb2.RegisterModelRequest(path=path, id="mine"), metadata=user)
            assert (denied.value.code(), error_info(denied.value).reason) == (grpc.StatusCode.PERMISSION_DENIED, "FORBIDDEN")
            assert "administrator" in denied.value.details() and "config.json" not in denied.value.details()
    assert await refusal(stub.GetModel(ml_pb2.GetModelRequest(model_id="mine"), metadata=ADMIN)) == (grpc.StatusCode.NOT_FOUND, "MODEL_NOT_FOUND")
    registered = await stub.RegisterModel(ml_pb2.RegisterModelRequest(path=tiny, id="by-admin"), metadata=ADMIN)
    assert registered.id == "by-admin"
