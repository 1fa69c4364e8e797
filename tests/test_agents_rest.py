"""Agent runs end to end through Envoy: the scripted OpenAI-format and
Anthropic-format servers drive real tasks on real temp git projects. The
REST document (shapes, 400/404/409 bodies, idempotency headers, artifacts
as HttpBody, /ws/tasks); what a run does with decisions, limits, a failing
model and a stop, and ExecuteTask over gRPC, is test_agents_decisions.py
(no Envoy)."""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_asyncio
import websockets

from agent_helpers import git_log, new_session, wait_for
from conftest import TEST_API_KEY, http_client, make_settings, running, two_providers
from llm_fakes import Call, Reply

TERMINAL = ("completed", "failed", "stopped")


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory, fakes):
    settings = make_settings(tmp_path_factory.mktemp("data"), llm=two_providers(fakes), agents={"command_timeout_seconds": 5})
    async with running(settings) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def http(runtime):
    async with http_client(runtime) as client:
        yield client


async def get_task(http, task_id):
    response = await http.get(f"/api/tasks/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def wait_task(http, task_id, statuses=TERMINAL):
    return await wait_for(lambda: get_task(http, task_id), lambda t: t["status"] in statuses)


async def pending_approval(http, task_id):
    async def fetch():
        return (await http.get(f"/api/tasks/{task_id}/approvals", params={"status": "pending"})).json()["approvals"]

    return (await wait_for(fetch, lambda a: len(a) == 1))[0]


async def test_api_roots_report_online(http, runtime):
    """agent-runtime-devin's `GET /api/` and `GET /ninja-api/` (the slash
    optional, like every path)."""
    for path, extra in (("/api/", {}), ("/api", {}), ("/ninja-api/", {"pydantic_models_available": True})):
        response = await http.get(path)
        assert response.status_code == 200, (path, response.text)
        body = response.json()
        assert body == {"status": "online", "version": body["version"], "message": "Agent Runtime API is running", **extra}, path
    async with http_client(runtime, None) as keyless:
        assert (await keyless.get("/api/")).status_code == 401


async def test_models_and_providers(http):
    models = (await http.get("/api/models")).json()["models"]
    ids = {(m["provider"], m["id"]) for m in models}
    assert ("openai", "gpt-4o") in ids and ("anthropic", "claude-3-5-sonnet-20241022") in ids
    gpt = next(m for m in models if m["id"] == "gpt-4o")
    assert gpt == {
        "id": "gpt-4o",
        "name": "GPT-4o",
        "provider": "openai",
        "context_window": 128000,
        "supports_vision": True,
        "supports_function_calling": True,
    }
    only = (await http.get("/api/models", params={"provider": "anthropic"})).json()["models"]
    assert only and {m["provider"] for m in only} == {"anthropic"}
    unknown = await http.get("/api/models", params={"provider": "nope"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND" and "nope" in unknown.json()["detail"]
    body = (await http.get("/api/providers")).json()
    providers = {p["id"]: p for p in body["providers"]}
    assert providers["openai"] == {"id": "openai", "name": "OpenAI", "configured": True, "models_count": 3}
    assert providers["anthropic"]["configured"] is True and providers["anthropic"]["models_count"] == 2
    assert providers["ollama"] == {"id": "ollama", "name": "Ollama", "configured": False, "models_count": 0}
    assert body["default_model"] == "gpt-4o"


async def test_project_sessions(http, project):
    created = await http.post("/api/sessions", json={"name": "New Session", "working_directory": str(project)})
    assert created.status_code == 200
    body = created.json()
    assert set(body) == {"id", "name", "status", "working_directory", "created_at"}
    assert body["name"] == "New Session" and body["status"] == "active" and body["working_directory"] == str(project)
    listed = (await http.get("/api/sessions")).json()
    assert isinstance(listed, list)
    mine = next(s for s in listed if s["id"] == body["id"])
    assert set(mine) == {"id", "name", "status", "created_at", "updated_at", "task_count"} and mine["task_count"] == 0
    got = (await http.get(f"/api/sessions/{body['id']}")).json()
    assert set(got) == {"id", "name", "status", "working_directory", "created_at", "updated_at", "tasks"}
    assert got["tasks"] == [] and got["working_directory"] == str(project)
    bad = await http.post("/api/sessions", json={"name": "x", "working_directory": "relative/dir"})
    assert bad.status_code == 422 and bad.json()["code"] == "VALIDATION_ERROR"
    missing = await http.post("/api/sessions", json={"name": "x", "working_directory": str(project / "nope")})
    assert missing.status_code == 422
    deleted = await http.delete(f"/api/sessions/{body['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await http.get(f"/api/sessions/{body['id']}")).status_code == 404


async def test_task_reads_asks_approval_writes_commits_with_diff(http, fakes, project):
    openai_fake, _ = fakes
    openai_fake.add(
        Reply(text="I'll read the app.", tool_calls=[Call("read_file", {"path": "src/app.py"})]),
        Reply(tool_calls=[Call("update_plan", {"steps": [{"description": "Read app", "status": "completed"}, {"description": "Add test", "status": "in_progress"}]})]),
        Reply(tool_calls=[Call("write_file", {"path": "tests/test_app.py", "content": "from src.app import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"})]),
        Reply(tool_calls=[Call("git_commit", {"message": "Add a test for add"})]),
        Reply(text="Added tests/test_app.py and committed it."),
    )
    session_id = await new_session(http, project)
    created = await http.post(
        f"/api/sessions/{session_id}/tasks", json={"description": "Add a test for add()", "model": "gpt-4o", "run_mode": "offline"}
    )
    assert created.status_code == 200, created.text
    task = created.json()
    assert set(task) == {"id", "description", "status", "created_at"}
    assert task["status"] in ("running", "waiting_approval")
    approval = await pending_approval(http, task["id"])
    assert approval["tool_name"] == "write_file" and approval["arguments"]["path"] == "tests/test_app.py"
    assert (await get_task(http, task["id"]))["status"] == "waiting_approval"
    assert not (project / "tests").exists()
    decided = await http.post(f"/api/tasks/{task['id']}/approvals/{approval['id']}/decision", json={"decision": "approve"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved"
    again = await http.post(f"/api/tasks/{task['id']}/approvals/{approval['id']}/decision", json={"decision": "reject"})
    assert again.status_code == 409 and again.json()["code"] == "APPROVAL_RESOLVED"
    done = await wait_task(http, task["id"])
    assert done["status"] == "completed", done
    assert done["result"] == {"success": True, "summary": "Added tests/test_app.py and committed it."}
    assert done["iterations"] == 5 and done["completed_at"]
    assert done["plan"]["steps"][1] == {"id": "step-2", "description": "Add test", "status": "in_progress"}
    assert (project / "tests/test_app.py").exists()
    assert git_log(project)[0] == "Add a test for add"
    # The model saw the file it read.
    tool_message = openai_fake.requests[-4]["messages"][-1]
    assert tool_message["role"] == "tool" and "return a + b" in tool_message["content"]
    artifacts = (await http.get(f"/api/tasks/{task['id']}/artifacts")).json()
    assert {a["name"]: a["type"] for a in artifacts} == {"plan.json": "plan", "diff.patch": "diff"}
    diff_meta = next(a for a in artifacts if a["name"] == "diff.patch")
    diff = await http.get(f"/api/tasks/{task['id']}/artifacts/{diff_meta['id']}")
    assert diff.status_code == 200 and diff.headers["content-type"].startswith("text/x-diff")
    assert "+++ b/tests/test_app.py" in diff.text and len(diff.content) == diff_meta["size"]
    plan = await http.get(f"/api/tasks/{task['id']}/artifacts/plan.json")
    assert plan.headers["content-type"].startswith("application/json") and plan.json()["steps"][0]["status"] == "completed"
    listed = (await http.get(f"/api/sessions/{session_id}/tasks")).json()
    assert listed == [{k: done[k] for k in ("id", "description", "status", "created_at", "completed_at", "iterations")}]
    # The run is mirrored into the session's event log.
    events = (await http.get(f"/sessions/{session_id}/events")).json()["events"]
    kinds = [e["event_type"] for e in events]
    assert kinds.count("pre_tool") == 4 and kinds.count("post_tool") == 4 and "message" in kinds
    post = next(e for e in events if e["event_type"] == "post_tool" and e["tool_name"] == "write_file")
    assert post["tool_input"]["path"] == "tests/test_app.py"


async def test_edit_runs_with_modified_arguments(http, fakes, project):
    openai_fake, _ = fakes
    openai_fake.add(
        Reply(tool_calls=[Call("write_file", {"path": "notes.txt", "content": "draft"})]),
        Reply(text="Wrote the notes."),
    )
    session_id = await new_session(http, project)
    task = (await http.post(f"/api/sessions/{session_id}/tasks", json={"description": "write notes"})).json()
    approval = await pending_approval(http, task["id"])
    no_args = await http.post(f"/api/tasks/{task['id']}/approvals/{approval['id']}/decision", json={"decision": "edit"})
    assert no_args.status_code == 400
    bad = await http.post(f"/api/tasks/{task['id']}/approvals/{approval['id']}/decision", json={"decision": "maybe"})
    assert bad.status_code == 400
    decided = await http.post(
        f"/api/tasks/{task['id']}/approvals/{approval['id']}/decision",
        json={"decision": "edit", "modified_arguments": {"path": "notes.txt", "content": "final"}},
    )
    assert decided.json()["status"] == "edited"
    await wait_task(http, task["id"])
    assert (project / "notes.txt").read_text() == "final"


async def test_devin_tasks_and_idempotency(http, fakes, project):
    openai_fake, _ = fakes
    openai_fake.add(Reply(text="Nothing to do."), Reply(text="Nothing to do either."))
    body = {"prompt": "Say hi", "context": {"working_directory": str(project), "language": "python"}, "tools": ["code-generator"]}
    first = await http.post("/api/tasks/", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "accepted" and first.json()["message"] == "Task submitted for execution"
    repeat = await http.post("/api/tasks/", json=body, headers={"Idempotency-Key": "k-1"})
    assert repeat.json() == first.json()
    other = await http.post("/api/tasks/", json={**body, "prompt": "Say bye"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    task_id = first.json()["task_id"]
    status = await wait_for(lambda: _status(http, task_id), lambda s: s["status"] == "completed")
    assert status["result"] == "Nothing to do."
    ninja = await http.post("/ninja-api/tasks/", json={"prompt": "Say hi again"})
    assert ninja.status_code == 200 and ninja.json()["status"] == "accepted"
    empty = await http.post("/api/tasks/", json={"prompt": ""})
    assert empty.status_code == 400


async def _status(http, task_id):
    return (await http.get(f"/api/tasks/{task_id}/status")).json()


async def test_unknown_resources_are_404_not_found(http):
    """mini-devin's one documented code for whatever is missing; the detail
    says what."""
    missing = [
        ("GET", "/api/tasks/nope", "Task nope"),
        ("GET", "/api/tasks/nope/artifacts", "Task nope"),
        ("GET", "/api/tasks/nope/approvals", "Task nope"),
        ("POST", "/api/tasks/nope/stop", "Task nope"),
        ("GET", "/api/sessions/nope", "nope"),
        ("DELETE", "/api/sessions/nope", "nope"),
        ("GET", "/api/sessions/nope/tasks", "nope"),
        ("POST", "/api/sessions/nope/tasks", "nope"),
    ]
    for method, path, named in missing:
        response = await http.request(method, path, json={"description": "x"} if method == "POST" else None)
        assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND", (path, response.text)
        assert named in response.json()["detail"], path


def task_ws_url(runtime, task_id, query=""):
    return f"ws://127.0.0.1:{runtime.settings.server.http_port}/ws/tasks/{task_id}" + (f"?{query}" if query else "")


async def receive(socket, timeout=10):
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))


async def test_task_websocket_streams_events_and_takes_input(http, fakes, project, runtime):
    openai_fake, _ = fakes
    openai_fake.add(
        Reply(text="Planning first.", tool_calls=[Call("update_plan", {"steps": [{"description": "Write file", "status": "in_progress"}]})]),
        Reply(tool_calls=[Call("write_file", {"path": "a.txt", "content": "A"})]),
        Reply(text="Done, and I read your note."),
    )
    session_id = await new_session(http, project)
    task = (await http.post(f"/api/sessions/{session_id}/tasks", json={"description": "write a"})).json()
    approval = await pending_approval(http, task["id"])
    headers = {"x-api-key": TEST_API_KEY}
    async with websockets.connect(task_ws_url(runtime, task["id"]), additional_headers=headers) as socket:
        assert (await receive(socket))["type"] == "connected"
        seen = []
        while not seen or seen[-1]["type"] != "approval_required":
            seen.append(await receive(socket))
        types = [m["type"] for m in seen]
        assert types[0] == "status" and "token" in types and "plan_update" in types and "tool_call" in types
        token = next(m for m in seen if m["type"] == "token")
        assert set(token) == {"type", "sequence", "task_id", "timestamp", "content"}
        assert "".join(m["content"] for m in seen if m["type"] == "token") == "Planning first."
        plan = next(m for m in seen if m["type"] == "plan_update")
        assert plan["plan"]["steps"][0]["description"] == "Write file"
        result = next(m for m in seen if m["type"] == "tool_result")
        assert result["tool"] == "update_plan" and result["success"] is True
        assert seen[-1]["approval"]["id"] == approval["id"]
        assert [m["sequence"] for m in seen] == list(range(1, len(seen) + 1))
        await socket.send(json.dumps({"type": "input", "content": "Please also be brief"}))
        await socket.send(json.dumps({"type": "dance"}))
        bad = await receive(socket)
        while bad["type"] == "status":
            bad = await receive(socket)
        # Client messages are handled in order: the error for the second
        # proves the input before it is stored.
        assert bad["type"] == "error" and bad["code"] == "BAD_REQUEST"
        await http.post(f"/api/tasks/{task['id']}/approvals/{approval['id']}/decision", json={"decision": "approve"})
        rest = []
        while not rest or rest[-1].get("status") not in TERMINAL:
            rest.append(await receive(socket))
        assert rest[-1] == {**rest[-1], "type": "status", "status": "completed"}
        last_sequence = rest[-1]["sequence"]
    # The model got the input as a user message in its next turn.
    assert {"role": "user", "content": "Please also be brief"} in openai_fake.requests[-1]["messages"]
    # Reconnecting after a sequence replays exactly the rest.
    async with websockets.connect(task_ws_url(runtime, task["id"], f"after_sequence={last_sequence - 2}"), additional_headers=headers) as socket:
        assert (await receive(socket))["type"] == "connected"
        replay = [await receive(socket), await receive(socket)]
        assert [m["sequence"] for m in replay] == [last_sequence - 1, last_sequence]
        with pytest.raises(websockets.ConnectionClosedOK):
            await socket.recv()


async def test_task_websocket_stop_and_errors(http, fakes, project, runtime):
    openai_fake, _ = fakes
    openai_fake.add(Reply(tool_calls=[Call("delete_file", {"path": "README.md"})]))
    session_id = await new_session(http, project)
    task = (await http.post(f"/api/sessions/{session_id}/tasks", json={"description": "delete"})).json()
    await pending_approval(http, task["id"])
    headers = {"x-api-key": TEST_API_KEY}
    async with websockets.connect(task_ws_url(runtime, task["id"]), additional_headers=headers) as socket:
        await socket.send(json.dumps({"type": "stop"}))
        messages = []
        while not messages or messages[-1].get("status") not in TERMINAL:
            messages.append(await receive(socket))
        assert messages[-1]["status"] == "stopped"
    assert (project / "README.md").exists()
    with pytest.raises(websockets.InvalidStatus) as missing:
        await websockets.connect(task_ws_url(runtime, "no-such-task"), additional_headers=headers)
    assert missing.value.response.status_code == 404
    with pytest.raises(websockets.InvalidStatus) as anonymous:
        await websockets.connect(task_ws_url(runtime, task["id"]))
    assert anonymous.value.response.status_code == 401


async def test_decision_idempotency_key(http, fakes, project):
    openai_fake, _ = fakes
    openai_fake.add(Reply(tool_calls=[Call("write_file", {"path": "b.txt", "content": "B"})]), Reply(text="ok"))
    session_id = await new_session(http, project)
    task = (await http.post(f"/api/sessions/{session_id}/tasks", json={"description": "b"})).json()
    approval = await pending_approval(http, task["id"])
    url = f"/api/tasks/{task['id']}/approvals/{approval['id']}/decision"
    first = await http.post(url, json={"decision": "approve"}, headers={"Idempotency-Key": "d-1"})
    retry = await http.post(url, json={"decision": "approve"}, headers={"Idempotency-Key": "d-1"})
    assert first.status_code == retry.status_code == 200 and retry.json() == first.json()
    changed = await http.post(url, json={"decision": "reject"}, headers={"Idempotency-Key": "d-1"})
    assert changed.status_code == 409 and changed.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    no_key = await http.post(url, json={"decision": "approve"})
    assert no_key.status_code == 409 and no_key.json()["code"] == "APPROVAL_RESOLVED"
    await wait_task(http, task["id"])
    # Creation with a key gives the same task twice.
    body = {"description": "same"}
    openai_fake.add(Reply(text="ok"))
    one = await http.post(f"/api/sessions/{session_id}/tasks", json=body, headers={"Idempotency-Key": "c-1"})
    two = await http.post(f"/api/sessions/{session_id}/tasks", json=body, headers={"Idempotency-Key": "c-1"})
    assert one.json()["id"] == two.json()["id"]
    await wait_task(http, one.json()["id"])
