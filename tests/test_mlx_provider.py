"""Registered MLX models as the `mlx` LLM provider: a tiny llama model built on
the fly, registered over REST, listed by /api/models and /api/providers, and
driving a real agent task through Envoy whose tokens stream over /ws/tasks."""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_asyncio
import websockets

from agent_runtime.llm.base import ChatMessage, ToolCall
from agent_runtime.llm.mlx_provider import to_local_messages
from agent_helpers import git_project, wait_for
from conftest import TEST_API_KEY, make_settings, running
from ml_helpers import build_model

pytestmark = pytest.mark.slow

TERMINAL = ("completed", "failed", "stopped")


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory):
    # No OpenAI/Anthropic/Ollama/Azure configured: only local models.
    async with running(make_settings(tmp_path_factory.mktemp("data"))) as started:
        yield started


async def providers(http) -> dict:
    response = await http.get("/api/providers")
    assert response.status_code == 200, response.text
    return {p["id"]: p for p in response.json()["providers"]}


async def get_task(http, task_id):
    response = await http.get(f"/api/tasks/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_local_model_registered_lists_and_runs_a_task_with_streamed_tokens(http, runtime, tmp_path):
    before = await providers(http)
    assert before["mlx"] == {"id": "mlx", "name": "MLX (local)", "configured": False, "models_count": 0}
    assert (await http.get("/api/models", params={"provider": "mlx"})).json()["models"] == []

    model_dir = build_model(tmp_path / "tiny-agent")
    registered = await http.post(
        "/ml-api/models/",
        json={"path": str(model_dir), "id": "tiny-agent", "parameters": {"temperature": 0, "max_tokens": 12}},
    )
    assert registered.status_code == 200, registered.text

    after = await providers(http)
    assert after["mlx"] == {"id": "mlx", "name": "MLX (local)", "configured": True, "models_count": 1}
    listed = (await http.get("/api/models", params={"provider": "mlx"})).json()["models"]
    assert listed == [
        {
            "id": "tiny-agent",
            "name": "tiny-agent",
            "provider": "mlx",
            "context_window": 512,
            "supports_vision": False,
            "supports_function_calling": False,
        }
    ]
    # The only configured provider: its first model is the default.
    assert (await http.get("/api/providers")).json()["default_model"] == "tiny-agent"

    project = git_project(tmp_path / "project")
    session = await http.post("/api/sessions", json={"name": "local", "working_directory": str(project)})
    assert session.status_code == 200, session.text
    created = await http.post(
        f"/api/sessions/{session.json()['id']}/tasks",
        json={"description": "color of red?", "model": "mlx/tiny-agent"},
    )
    assert created.status_code == 200, created.text
    task_id = created.json()["id"]
    url = f"ws://127.0.0.1:{runtime.settings.server.http_port}/ws/tasks/{task_id}"
    async with websockets.connect(url, additional_headers={"x-api-key": TEST_API_KEY}) as socket:
        seen = []
        while not seen or seen[-1].get("status") not in TERMINAL:
            seen.append(json.loads(await asyncio.wait_for(socket.recv(), 60)))
    assert seen[0]["type"] == "connected"
    assert seen[-1]["type"] == "status" and seen[-1]["status"] == "completed", seen
    tokens = [m["content"] for m in seen if m["type"] == "token"]
    assert tokens, seen
    done = await get_task(http, task_id)
    assert done["status"] == "completed" and done["iterations"] == 1
    # The streamed tokens are the model's whole reply, which is the result.
    assert done["result"] == {"success": True, "summary": "".join(tokens)}

    # The same reply straight from the inference engine (greedy decoding).
    direct = [p async for p in runtime.inference.stream_chat("tiny-agent", [{"role": "user", "content": "color of red?"}],
                                                     max_tokens=12, temperature=0)]
    assert "".join(direct).strip() == "".join(tokens).strip()


async def test_unknown_local_model_fails_the_task_with_llm_error(http, tmp_path):
    project = git_project(tmp_path / "project")
    session = (await http.post("/api/sessions", json={"name": "x", "working_directory": str(project)})).json()
    created = await http.post(f"/api/sessions/{session['id']}/tasks", json={"description": "hi", "model": "mlx/nope"})
    assert created.status_code == 200, created.text
    done = await wait_for(lambda: get_task(http, created.json()["id"]), lambda t: t["status"] in TERMINAL, timeout=30)
    assert done["status"] == "failed", done
    assert "nope" in json.dumps(done) and "not registered" in json.dumps(done)


def test_tool_traffic_is_rendered_as_text():
    messages = [
        ChatMessage("system", "be brief"),
        ChatMessage("user", "read it"),
        ChatMessage("assistant", "", [ToolCall("c1", "read_file", {"path": "a"})]),
        ChatMessage("tool", "hello", tool_call_id="c1", tool_name="read_file"),
        ChatMessage("tool", "boom", tool_call_id="c2", tool_name="run_command", is_error=True),
    ]
    assert to_local_messages(messages) == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "read it"},
        {"role": "assistant", "content": '[called read_file({"path": "a"})]'},
        {"role": "user", "content": "Result of tool read_file: hello"},
        {"role": "user", "content": "Error from tool run_command: boom"},
    ]
