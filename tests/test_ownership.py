"""A user sees and changes only their own sessions, on every surface (REST
through Envoy, gRPC, the /ws feed); administrator credentials see all."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pathlib
import uuid

import grpc
import pytest
import pytest_asyncio
import websockets

from agentruntime.v1 import session_pb2, session_pb2_grpc
from agent_runtime.config import AgentsConfig
from agent_runtime.errors import NotFound, PermissionDenied
from agent_runtime.identity.ownership import check_visible, new_owner, owner_scope, require_admin, visible
from agent_runtime.interceptors.auth import ANONYMOUS, Principal
from conftest import TEST_API_KEY, http_client, running
from identity_helpers import TEST_INTERNAL_TOKEN, bearer, identity_settings, issue_key, new_user

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
    for method, path, body in (
        ("GET", f"/sessions/{bob_session}", None),
        ("GET", f"/sessions/{bob_session}/result", None),
        ("GET", f"/sessions/{bob_session}/events", None),
        ("GET", f"/events/{bob_session}", None),
        ("PATCH", f"/sessions/{bob_session}/metadata", {"session_name": "stolen"}),
        ("POST", f"/sessions/{bob_session}/events", {"event_type": "pre_tool"}),
        ("POST", "/events", {"event_type": "session_start", "session_id": bob_session}),
        ("DELETE", f"/sessions/{bob_session}", None),
    ):
        response = await http.request(method, path, json=body, headers=alice)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "SESSION_NOT_FOUND"
    status = await http.get(f"/sessions/{bob_session}/status", headers=alice)
    assert status.json() == {"status": "not_existent"}
    listed = (await http.get("/sessions", headers=alice)).json()["sessions"]
    assert [s["session_id"] for s in listed] == [users["alice_session"]]
    # Nothing changed for Bob, with his JWT or his key.
    for headers in (users["bob"], users["bob_key"]):
        mine = await http.get(f"/sessions/{bob_session}", headers=headers)
        assert mine.status_code == 200 and mine.json()["session"]["event_count"] == 1
        assert mine.json()["session"]["session_name"] == bob_session


async def test_administrators_see_and_change_every_session(http, users):
    for headers in (ADMIN, {"x-internal-auth": TEST_INTERNAL_TOKEN}):
        ids = {s["session_id"] for s in (await http.get("/sessions", headers=headers)).json()["sessions"]}
        assert {users["alice_session"], users["bob_session"]} <= ids
        assert (await http.get(f"/sessions/{users['bob_session']}", headers=headers)).status_code == 200
    admin_session = new_id("admin")
    await http.post("/sessions", json={"session_id": admin_session}, headers=ADMIN)
    assert (await http.get(f"/sessions/{admin_session}", headers=users["alice"])).status_code == 404


async def test_ingest_creates_owned_sessions(http, users):
    session_id = new_id("ingest")
    created = await http.post("/events", json={"event_type": "session_start", "session_id": session_id}, headers=users["alice"])
    assert created.status_code == 200
    assert (await http.get(f"/sessions/{session_id}", headers=users["alice"])).status_code == 200
    assert (await http.get(f"/sessions/{session_id}", headers=users["bob"])).status_code == 404


async def test_grpc_user_a_gets_not_found_for_user_b_session(runtime, users):
    alice = (("authorization", users["alice"]["authorization"]),)
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        for call in (
            stub.GetSession(session_pb2.GetSessionRequest(session_id=users["bob_session"]), metadata=alice),
            stub.ListEvents(session_pb2.ListEventsRequest(session_id=users["bob_session"]), metadata=alice),
            stub.DeleteSession(session_pb2.DeleteSessionRequest(session_id=users["bob_session"]), metadata=alice),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await call
            assert failure.value.code() == grpc.StatusCode.NOT_FOUND
        listed = await stub.ListSessions(session_pb2.ListSessionsRequest(), metadata=alice)
        ids = [s.session_id for s in listed.sessions]
        assert users["alice_session"] in ids and users["bob_session"] not in ids
        feed = stub.WatchSessions(session_pb2.WatchSessionsRequest(session_id=users["bob_session"]), metadata=alice)
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await feed.read()
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND


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


def test_ownership_helpers():
    alice = Principal(kind="jwt", subject="a", user_id="a")
    admin = Principal(kind="api_key", subject="configured-key", admin=True)
    assert new_owner(alice) == "a" and new_owner(admin) is None
    assert owner_scope(alice) == "a" and owner_scope(admin) is None
    assert visible("a", owner_scope(alice)) and not visible("b", owner_scope(alice)) and not visible(None, "a")
    assert visible("b", owner_scope(admin)) and visible(None, owner_scope(admin))
    assert not visible(None, owner_scope(ANONYMOUS)) and not visible("a", owner_scope(ANONYMOUS))
    with pytest.raises(NotFound):
        check_visible("b", "a", NotFound("Task t not found"))
    check_visible("a", "a", NotFound("unused"))
    with pytest.raises(PermissionDenied) as denied:
        require_admin("Deleting users", alice)
    assert denied.value.http_status == 403 and denied.value.code == "FORBIDDEN"
    require_admin("Deleting users", admin)


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


async def test_migration_gives_key_made_tasks_to_the_keys_user(tmp_path):
    """Before 0009 a task made with a user's md_ key was owned by the key's
    id; the migration hands it (and its approvals) to the user."""
    from agent_runtime.storage.sqlite.database import Database

    database = await Database.open(tmp_path / "old.sqlite3")
    try:
        now = "2026-12-01T00:00:00Z"
        async with database.transaction() as tx:
            await tx.execute("INSERT INTO users VALUES ('u1', 'b@x.org', 'Bob', 'bob', 'hash', ?)", (now,))
            await tx.execute(
                "INSERT INTO api_keys (key_id, user_id, name, key_hash, prefix, created_at) VALUES ('k1', 'u1', 'ci', 'h', 'md_', ?)", (now,)
            )
            await tx.execute("INSERT INTO sessions (session_id, session_name, status, created_at, updated_at) VALUES ('s1', 's1', 'running', ?, ?)", (now, now))
            for task_id, owner in (("by-key", "k1"), ("by-admin", "api_key")):
                await tx.execute(
                    "INSERT INTO agent_tasks (task_id, session_id, owner, description, working_directory, status, max_iterations, created_at, updated_at)"
                    " VALUES (?, 's1', ?, 'd', '/tmp', 'completed', 5, ?, ?)",
                    (task_id, owner, now, now),
                )
            await tx.execute(
                "INSERT INTO tool_approvals (approval_id, task_id, owner, call_id, tool_name, arguments, reason, status, created_at)"
                " VALUES ('a1', 'by-key', 'k1', 'c1', 'write_file', '{}', 'r', 'approved', ?)",
                (now,),
            )
            await tx.execute("DELETE FROM schema_migrations WHERE version = 9")
        assert await database.migrate() == [9]
        owners = await database.fetch_all("SELECT task_id, owner FROM agent_tasks ORDER BY task_id")
        assert [tuple(row) for row in owners] == [("by-admin", "api_key"), ("by-key", "u1")]
        assert (await database.fetch_one("SELECT owner FROM tool_approvals"))["owner"] == "u1"
    finally:
        await database.close()
