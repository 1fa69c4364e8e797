"""What Envoy and the bridge add to session ownership (the rules on the
bare gRPC server are test_ownership.py): the REST 404 body, the /ws feed,
and the mini-devin project sessions and their tasks on every surface,
/ws/tasks included; administrator credentials see all."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pathlib
import uuid

import pytest
import pytest_asyncio
import websockets

from agent_runtime.config import AgentsConfig
from conftest import TEST_API_KEY, http_client, running
from identity_helpers import bearer, identity_settings, issue_key, new_user

ADMIN = {"x-api-key": TEST_API_KEY}


def new_id(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory):
    projects = tmp_path_factory.mktemp("projects")
    settings = identity_settings(
        tmp_path_factory.mktemp("owners"), agents=dataclasses.replace(AgentsConfig(), project_roots=(str(projects),))
    )
    async with running(settings) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def http(runtime):
    async with http_client(runtime, None) as client:
        yield client


@pytest_asyncio.fixture(scope="module")
async def users(http):
    """Alice (JWT), Bob (JWT) and Bob's md_ key, each with one session."""
    _, alice = await new_user(http, "alice")
    _, bob = await new_user(http, "bob")
    bob_key = (await issue_key(http, bearer(bob)))["key"]
    sessions = {}
    for name, headers in (("alice", bearer(alice)), ("bob", bearer(bob))):
        session_id = new_id(name)
        created = await http.post("/sessions", json={"session_id": session_id}, headers=headers)
        assert created.status_code == 200, created.text
        event = await http.post(f"/sessions/{session_id}/events", json={"event_type": "pre_tool"}, headers=headers)
        assert event.status_code == 200
        sessions[name] = session_id
    return {
        "alice": bearer(alice),
        "bob": bearer(bob),
        "bob_key": {"x-api-key": bob_key},
        "alice_session": sessions["alice"],
        "bob_session": sessions["bob"],
    }


async def test_rest_user_a_gets_404_for_user_b_session(http, users):
    bob_session, alice = users["bob_session"], users["alice"]
    response = await http.get(f"/sessions/{bob_session}", headers=alice)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "SESSION_NOT_FOUND"
    listed = (await http.get("/sessions", headers=alice)).json()["sessions"]
    assert [s["session_id"] for s in listed] == [users["alice_session"]]


def ws_url(runtime, query: str = "") -> str:
    return runtime.http_url.replace("http://", "ws://") + "/ws" + (f"?{query}" if query else "")


async def next_message(socket, timeout: float = 5.0) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        if message["type"] != "heartbeat":
            return message


async def test_ws_user_a_gets_404_for_user_b_session(runtime, users):
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await websockets.connect(ws_url(runtime, f"session_id={users['bob_session']}"), additional_headers=users["alice"])
    assert refused.value.response.status_code == 404
    assert json.loads(refused.value.response.body)["code"] == "SESSION_NOT_FOUND"
    token = users["alice"]["authorization"].removeprefix("Bearer ")
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await websockets.connect(ws_url(runtime, f"session_id={users['bob_session']}&after_sequence=0&token={token}"))
    assert refused.value.response.status_code == 404


async def test_ws_feed_carries_only_the_watchers_sessions(runtime, http, users):
    token = users["alice"]["authorization"].removeprefix("Bearer ")
    for who in ("bob", "alice"):
        posted = await http.post(f"/sessions/{users[who + '_session']}/events", json={"event_type": "post_tool"}, headers=users[who])
        assert posted.status_code == 200
    async with websockets.connect(ws_url(runtime, f"token={token}&after_feed_sequence=1")) as socket:
        assert (await next_message(socket))["type"] == "connected"
        init = await next_message(socket)
        assert users["bob_session"] not in {s["session_id"] for s in init["sessions"]}
        assert users["alice_session"] in {s["session_id"] for s in init["sessions"]}
        # The replay follows init at once; the first heartbeat comes later.
        replayed = []
        while (message := json.loads(await asyncio.wait_for(socket.recv(), 5)))["type"] == "event":
            replayed.append(message)
        assert users["alice_session"] in {m["data"]["session_id"] for m in replayed}
        assert all(m["data"]["session_id"] != users["bob_session"] for m in replayed)
    async with websockets.connect(ws_url(runtime, f"token={token}")) as socket:
        await next_message(socket)
        await next_message(socket)
        # Bob's activity is invisible; Alice's own arrives.
        await http.post(f"/sessions/{users['bob_session']}/events", json={"event_type": "pre_tool"}, headers=users["bob"])
        await http.post("/sessions", json={"session_id": new_id("bob")}, headers=users["bob"])
        own = new_id("alice")
        await http.post("/sessions", json={"session_id": own}, headers=users["alice"])
        created = await next_message(socket)
        assert created["type"] == "session_created" and created["session"]["session_id"] == own


async def test_project_sessions_and_their_tasks_are_owned(http, users, runtime):
    """mini-devin `/api/sessions`: the same rule as `/sessions`."""
    alice, bob = users["alice"], users["bob"]
    project = pathlib.Path(runtime.settings.agents.project_roots[0]) / "alice"
    project.mkdir()
    created = await http.post("/api/sessions", json={"name": "Alice's project", "working_directory": str(project)}, headers=alice)
    assert created.status_code == 200, created.text
    session_id = created.json()["id"]
    assert (await http.get(f"/api/sessions/{session_id}", headers=alice)).status_code == 200
    for method, path, body in (
        ("GET", f"/api/sessions/{session_id}", None),
        ("DELETE", f"/api/sessions/{session_id}", None),
        ("GET", f"/api/sessions/{session_id}/tasks", None),
        ("POST", f"/api/sessions/{session_id}/tasks", {"description": "read the code"}),
    ):
        response = await http.request(method, path, json=body, headers=bob)
        assert response.status_code == 404, (method, path, response.text)
    listed = (await http.get("/api/sessions", headers=bob)).json()
    assert session_id not in [s["id"] for s in listed]
    assert session_id in [s["id"] for s in (await http.get("/api/sessions", headers=alice)).json()]
    assert session_id in [s["id"] for s in (await http.get("/api/sessions", headers=ADMIN)).json()]


async def test_a_users_tasks_are_theirs_with_any_of_their_credentials(http, users, runtime):
    """A task Bob made with his JWT is his under his md_ key too, and the
    other way round: lists, reads, /ws/tasks and stop alike. Alice sees
    neither."""
    bob, bob_key, alice = users["bob"], users["bob_key"], users["alice"]
    project = pathlib.Path(runtime.settings.agents.project_roots[0]) / "bob"
    project.mkdir()
    created = await http.post("/api/sessions", json={"name": "Bob's project", "working_directory": str(project)}, headers=bob)
    session_id = created.json()["id"]
    tasks = {}
    for name, headers in (("jwt", bob), ("key", bob_key)):
        task = await http.post(f"/api/sessions/{session_id}/tasks", json={"description": f"made with the {name}"}, headers=headers)
        assert task.status_code == 200, task.text
        tasks[name] = task.json()["id"]
    for headers in (bob, bob_key):
        listed = (await http.get(f"/api/sessions/{session_id}/tasks", headers=headers)).json()
        assert sorted(t["id"] for t in listed) == sorted(tasks.values())
        for task_id in tasks.values():
            assert (await http.get(f"/api/tasks/{task_id}", headers=headers)).status_code == 200
    ws = runtime.http_url.replace("http://", "ws://")
    async with websockets.connect(f"{ws}/ws/tasks/{tasks['jwt']}", additional_headers=bob_key) as socket:
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["task_id"] == tasks["jwt"]
    assert (await http.post(f"/api/tasks/{tasks['key']}/stop", headers=bob)).status_code == 200
    for task_id in tasks.values():
        assert (await http.get(f"/api/tasks/{task_id}", headers=alice)).status_code == 404


async def test_a_session_without_working_directory_gets_a_fresh_workspace(http, users, runtime):
    """Any user can start work: without working_directory the session gets
    a new git repository under the data dir (choosing one needs
    PROJECT_ROOTS)."""
    created = await http.post("/api/sessions", json={"name": "Scratch"}, headers=users["alice"])
    assert created.status_code == 200, created.text
    directory = pathlib.Path(created.json()["working_directory"])
    assert directory.parent == runtime.settings.data_dir / "workspaces" and (directory / ".git").is_dir()
    other = (await http.post("/api/sessions", json={"name": "Scratch 2"}, headers=users["alice"])).json()
    assert other["working_directory"] != str(directory)


async def test_users_choose_working_directories_only_under_project_roots(http, users, runtime, tmp_path):
    outside = await http.post("/api/sessions", json={"name": "x", "working_directory": str(tmp_path)}, headers=users["alice"])
    assert outside.status_code == 422, outside.text
    assert "PROJECT_ROOTS" in outside.json()["detail"]


