"""The ML model registry lists the remote providers' models beside the
local MLX ones (GET /ml-api/models/), and refuses to fine-tune them."""

from __future__ import annotations


import grpc
import pytest_asyncio

from agentruntime.v1 import ml_pb2, ml_pb2_grpc
from conftest import grpc_metadata, http_client, make_settings, running
from llm_fakes import FakeOpenAI


@pytest_asyncio.fixture(scope="module")
async def fake():
    async with FakeOpenAI(models=["gpt-4o-mini", "qwen2.5-coder"]) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory, fake):
    llm = {"openai_base_url": fake.base_url, "max_retries": 0}
    async with running(make_settings(tmp_path_factory.mktemp("remote"), llm=llm)) as started:
        yield started


async def test_remote_models_are_listed_with_numeric_parameters(runtime):
    async with http_client(runtime) as http:
        listed = await http.get("/ml-api/models/")
        assert listed.status_code == 200, listed.text
        by_id = {model["id"]: model for model in listed.json()}
        assert {"openai/gpt-4o-mini", "openai/qwen2.5-coder"} <= set(by_id)
        model = by_id["openai/qwen2.5-coder"]
        assert model["parameters"]["context_window"] == 32768
        assert isinstance(model["parameters"]["temperature"], float) and model["version"] == "remote"


async def test_remote_model_by_id_over_grpc_and_not_fine_tunable(runtime):
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        ml = ml_pb2_grpc.MLServiceStub(channel)
        got = await ml.GetModel(ml_pb2.GetModelRequest(model_id="openai/gpt-4o-mini"), metadata=grpc_metadata())
        assert got.model.name and got.model.parameters["max_tokens"] == "4096"
    async with http_client(runtime) as http:
        uploaded = await http.post(
            "/ml-api/files/", json={"filename": "t.jsonl", "purpose": "fine-tune", "content": '{"text": "hello"}\n'}
        )
        assert uploaded.status_code == 200, uploaded.text
        refused = await http.post(
            "/ml-api/fine-tuning-jobs/", json={"model_id": "openai/gpt-4o-mini", "training_file": uploaded.json()["id"]}
        )
        assert refused.status_code == 400 and "remote provider" in refused.json()["detail"]
