"""`GET /ai/agents` and `POST /ai/tasks` (openruntime-compute, AI Operations):
each workflow runs its role's system prompt through the configured LLM (the
scripted OpenAI-format server) or a registered local MLX model, through
Envoy and over gRPC; bad input, a failing model and a timeout are errors
with the documented status and code."""

from __future__ import annotations

import asyncio
import json
import time

import grpc
import pytest
import pytest_asyncio
from google.protobuf import struct_pb2
from grpc_status import rpc_status
from google.rpc import error_details_pb2

from agentruntime.v1 import compute_pb2, compute_pb2_grpc
from agent_runtime.agents.ai_tasks import AI_ROLES, ROLES_BY_WORKFLOW
from conftest import grpc_metadata, make_settings, running
from llm_fakes import FakeOpenAI, Reply
from ml_helpers import build_model
from test_sessions_rest import assert_error

pytestmark = pytest.mark.slow

FIBONACCI = "def fibonacci(n):\n    if n <= 1:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)"


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory, fake):
    llm = {"openai_base_url": fake.base_url, "max_retries": 0, "timeout_seconds": 10}
    settings = make_settings(tmp_path_factory.mktemp("data"), llm=llm, compute={"metrics_interval_seconds": 0.2})
    async with running(settings) as started:
        yield started


def sent(fake) -> tuple[str, str]:
    """(system prompt, user message) of the last model request."""
    system, user = fake.requests[-1]["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    return system["content"], user["content"]


def json_section(text: str, title: str) -> dict:
    return json.loads(text.split(f"{title} (JSON):\n", 1)[1].split("\n\n", 1)[0])


async def test_agents_lists_the_roles_in_the_documented_shape(http):
    response = await http.get("/ai/agents")
    assert response.status_code == 200, response.text
    agents = response.json()["agents"]
    assert all(set(agent) == {"role", "name", "description", "capabilities", "workflow_type"} for agent in agents)
    assert [a["role"] for a in agents] == ["DEVELOPER", "ANALYST", "OPTIMIZER", "ML_ENGINEER"]
    # The two roles the document shows, exactly as shown.
    documented = {"role", "name", "description", "capabilities"}
    assert {k: agents[0][k] for k in documented} == {
        "role": "DEVELOPER",
        "name": "Code Assistant",
        "description": "Assists with code generation and refactoring",
        "capabilities": ["code_generation", "refactoring", "debugging"],
    }
    assert {k: agents[1][k] for k in documented} == {
        "role": "ANALYST",
        "name": "System Analyst",
        "description": "Analyzes system performance and provides insights",
        "capabilities": ["performance_analysis", "optimization", "reporting"],
    }
    # Every workflow type is served by exactly one listed role.
    assert sorted(a["workflow_type"] for a in agents) == sorted(ROLES_BY_WORKFLOW)


async def test_code_generation_runs_the_developer_role(http, fake):
    fake.add(Reply(text=FIBONACCI, usage=(52, 31)))
    before = (await http.get("/metrics")).json()["ai_tasks_processed"]
    response = await http.post(
        "/ai/tasks",
        json={
            "workflow_type": "code_generation",
            "prompt": "Create a Python function to calculate fibonacci numbers",
            "parameters": {"language": "python", "style": "functional", "model": "gpt-4o"},
            "timeout": 30,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"task_id", "status", "result", "model_used", "tokens_used", "execution_time"}
    assert body["task_id"].startswith("ai_task_") and body["status"] == "completed"
    assert body["result"] == FIBONACCI and body["model_used"] == "openai/gpt-4o"
    # Tokens are the provider's reported usage (prompt + completion).
    assert body["tokens_used"] == 83 and 0 < body["execution_time"] < 30
    request = fake.requests[-1]
    assert request["model"] == "gpt-4o" and "tools" not in request
    system, user = sent(fake)
    assert system == ROLES_BY_WORKFLOW["code_generation"].system_prompt
    assert user.startswith("Create a Python function to calculate fibonacci numbers")
    assert json_section(user, "Requirements") == {"language": "python", "style": "functional"}
    assert (await http.get("/metrics")).json()["ai_tasks_processed"] == before + 1


async def test_system_analysis_sends_the_real_devices_and_metrics(http, fake, runtime):
    deadline = time.monotonic() + 10
    while (await runtime.database.fetch_one("SELECT COUNT(*) FROM compute_metric_samples"))[0] < 3:
        assert time.monotonic() < deadline, "no metric samples stored"
        await asyncio.sleep(0.1)
    fake.add(Reply(text="1. CPU mostly idle.\n2. Recommendation: none needed."))
    response = await http.post(
        "/ai/tasks",
        json={"workflow_type": "system_analysis", "prompt": "Is the machine overloaded?", "parameters": {"timeframe": "5m"}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "1. CPU mostly idle.\n2. Recommendation: none needed."
    # Without `model`: the default model (the fake's first listed model).
    assert response.json()["model_used"] == f"openai/{fake.requests[-1]['model']}"
    system, user = sent(fake)
    assert system == ROLES_BY_WORKFLOW["system_analysis"].system_prompt
    assert user.startswith("Is the machine overloaded?")
    state = json_section(user, "System state")
    devices = (await http.get("/devices")).json()["devices"]
    assert [d["id"] for d in state["devices"]] == [d["id"] for d in devices]
    assert state["devices"][0]["memory_total"] == devices[0]["memory_total"] > 0
    assert state["current_metrics"]["devices"] == len(devices)
    assert {"cpu_utilization", "memory_usage", "tasks_completed"} <= set(state["current_metrics"])
    window = state["window_statistics"]
    assert window["metric_type"] == "performance" and window["timeframe"] == "5m" and window["sample_count"] >= 3
    assert window["series"]["cpu_utilization"]["average"] >= 0
    # timeframe/metric_type are workflow parameters, not requirements.
    assert "Requirements (JSON)" not in user


async def test_optimization_runs_the_optimizer_role(http, fake):
    fake.add(Reply(text="Use functools.cache.\n1. O(2^n) to O(n)."))
    response = await http.post("/ai/tasks", json={"workflow_type": "optimization", "prompt": FIBONACCI})
    assert response.status_code == 200, response.text
    system, user = sent(fake)
    assert system == ROLES_BY_WORKFLOW["optimization"].system_prompt and user == FIBONACCI


async def test_model_inference_sends_the_prompt_as_it_is(http, fake):
    fake.add(Reply(text="Paris"))
    response = await http.post(
        "/ai/tasks",
        json={"workflow_type": "model_inference", "prompt": "Capital of France?", "parameters": {"model": "gpt-4o-mini", "system": "One word."}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "Paris" and response.json()["model_used"] == "openai/gpt-4o-mini"
    assert fake.requests[-1]["messages"] == [{"role": "system", "content": "One word."}, {"role": "user", "content": "Capital of France?"}]


async def test_invalid_parameters_are_422_with_what_to_fix(http, fake):
    """The document's table: 422 for invalid parameters (as POST /tasks and
    /ai/insights answer), 400 for a malformed request."""
    count = len(fake.requests)
    unknown = await http.post("/ai/tasks", json={"workflow_type": "poetry", "prompt": "x"})
    body = assert_error(unknown, 422, "INVALID_WORKFLOW_TYPE")
    assert all(w in body["detail"] for w in ("code_generation", "system_analysis", "optimization", "model_inference"))
    assert_error(await http.post("/ai/tasks", json={"workflow_type": "code_generation"}), 422, "VALIDATION_ERROR")
    assert_error(await http.post("/ai/tasks", json={"workflow_type": "code_generation", "prompt": "x", "timeout": 0}), 422, "VALIDATION_ERROR")
    too_long = await http.post("/ai/tasks", json={"workflow_type": "code_generation", "prompt": "x", "timeout": 3601})
    assert "timeout must be at most 3600" in assert_error(too_long, 422, "VALIDATION_ERROR")["detail"]
    malformed = await http.post("/ai/tasks", content=b'{"workflow_type": ', headers={"content-type": "application/json"})
    assert malformed.status_code == 400
    tokens = await http.post("/ai/tasks", json={"workflow_type": "code_generation", "prompt": "x", "parameters": {"max_tokens": 0}})
    assert "parameters.max_tokens" in assert_error(tokens, 422, "VALIDATION_ERROR")["detail"]
    frame = await http.post("/ai/tasks", json={"workflow_type": "system_analysis", "prompt": "x", "parameters": {"timeframe": "2y"}})
    assert "timeframe must be one of" in assert_error(frame, 422, "VALIDATION_ERROR")["detail"]
    unused = await http.post("/ai/tasks", json={"workflow_type": "model_inference", "prompt": "x", "parameters": {"style": "terse"}})
    assert "takes only the parameters model, max_tokens, system; got style" in assert_error(unused, 422, "VALIDATION_ERROR")["detail"]
    assert len(fake.requests) == count  # none of them reached the model


async def test_model_failure_is_502_llm_error(http, fake):
    fake.add(Reply(status=500, error_body={"error": {"message": "model overloaded", "type": "server_error"}}))
    response = await http.post("/ai/tasks", json={"workflow_type": "code_generation", "prompt": "hello"})
    assert "model overloaded" in assert_error(response, 502, "LLM_ERROR")["detail"]


async def test_timeout_is_504_and_does_not_wait_for_the_model(http, fake):
    fake.add(Reply(text="too late", delay=30))
    started = time.monotonic()
    response = await http.post("/ai/tasks", json={"workflow_type": "code_generation", "prompt": "slow", "timeout": 1})
    # Answered at the task's timeout, not when the model answers (30 s).
    assert time.monotonic() - started < 15
    body = assert_error(response, 504, "AI_TASK_TIMEOUT")
    assert "timeout of 1 s" in body["detail"]


async def test_over_grpc(runtime, fake):
    fake.add(Reply(text=FIBONACCI, usage=(5, 6)))
    parameters = struct_pb2.Struct()
    parameters.update({"model": "gpt-4o-mini"})
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = compute_pb2_grpc.ComputeServiceStub(channel)
        agents = await stub.ListAIAgents(compute_pb2.ListAIAgentsRequest(), metadata=grpc_metadata())
        assert [a.role for a in agents.agents] == [r.role for r in AI_ROLES]
        task = await stub.CreateAITask(
            compute_pb2.CreateAITaskRequest(workflow_type="code_generation", prompt="fib", parameters=parameters, timeout=30),
            metadata=grpc_metadata(),
        )
        assert (task.status, task.result, task.model_used, task.tokens_used) == ("completed", FIBONACCI, "openai/gpt-4o-mini", 11)
        call = stub.CreateAITask(compute_pb2.CreateAITaskRequest(workflow_type="nope", prompt="x"), metadata=grpc_metadata())
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(refused.value)
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert info.reason == "INVALID_WORKFLOW_TYPE"


async def test_model_inference_on_a_local_mlx_model(http, fake, runtime, tmp_path):
    model_dir = build_model(tmp_path / "tiny-inference")
    registered = await http.post(
        "/ml-api/models/", json={"path": str(model_dir), "id": "tiny-inference", "parameters": {"temperature": 0, "max_tokens": 8}}
    )
    assert registered.status_code == 200, registered.text
    count = len(fake.requests)
    response = await http.post(
        "/ai/tasks",
        json={"workflow_type": "model_inference", "prompt": "color of red?", "parameters": {"model": "mlx/tiny-inference"}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_used"] == "mlx/tiny-inference" and body["tokens_used"] > 0
    assert len(fake.requests) == count  # the remote model was not asked
    # The prompt went to the local model as it is: the same answer straight
    # from the inference engine (greedy decoding).
    direct = [p async for p in runtime.inference.stream_chat("tiny-inference", [{"role": "user", "content": "color of red?"}], max_tokens=8, temperature=0)]
    assert body["result"] == "".join(direct)
