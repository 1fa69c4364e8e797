"""One rule for where agents work, on every surface that sets a project
directory (identity/projects.py): only administrators choose a directory
outside PROJECT_ROOTS; users get a fresh workspace or a directory under a
root. Through the real server: REST through Envoy, and gRPC."""

from __future__ import annotations

import dataclasses
import uuid

import grpc
import pytest
import pytest_asyncio
from google.protobuf import struct_pb2

from agentruntime.v1 import agent_pb2, agent_pb2_grpc, session_pb2, session_pb2_grpc
from agent_runtime.config import AgentsConfig, Settings
from agent_runtime.settings_checks import check_settings
from agent_helpers import wait_for
from conftest import TEST_API_KEY, http_client, running
from identity_helpers import bearer, identity_settings, new_user
from llm_fakes import Call, FakeOpenAI, Reply

pytestmark = pytest.mark.slow

ADMIN = {"x-api-key": TEST_API_KEY}


def new_id(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


@pytest_asyncio.fixture(scope="module")
async def fake():
    async with FakeOpenAI() as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def roots(tmp_path_factory):
    return tmp_path_factory.mktemp("roots")


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory, fake, roots):
    llm = {"openai_base_url": fake.base_url, "max_retries": 0}
    agents = {"project_roots": (str(roots),), "hitl_dangerous_tools": ()}
    async with running(identity_settings(tmp_path_factory.mktemp("dirs"), llm=llm, agents=agents)) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def http(runtime):
    async with http_client(runtime, None) as client:
        yield client


@pytest_asyncio.fixture(scope="module")
async def user(http):
    _, token = await new_user(http, "dirs")
    return bearer(token)


# Each surface that names a directory: (method, path, body with `directory`).
def surfaces(directory: str) -> list[tuple[str, str, dict]]:
    return [
        ("POST", "/sessions", {"session_id": new_id("ev"), "project_dir": directory}),
        ("POST", "/api/sessions", {"name": "p", "working_directory": directory}),
        ("POST", "/api/v1/sessions", {"user_id": "u", "metadata": {"project_path": directory}}),
        ("POST", "/api/tasks", {"prompt": "list the files", "context": {"working_directory": directory}}),
    ]


async def test_users_choose_only_under_project_roots_on_every_rest_surface(http, user, roots, fake):
    """`/etc` is refused everywhere with what is allowed; a directory under
    the root is accepted. Whether a directory outside the roots exists is
    not told."""
    for method, path, body in surfaces("/etc") + surfaces("/no/such/directory"):
        refused = await http.request(method, path, json=body, headers=user)
        assert refused.status_code == 422, (path, refused.text)
        assert refused.json()["code"] == "VALIDATION_ERROR" and "PROJECT_ROOTS" in refused.json()["detail"], refused.text
        assert "existing" not in refused.json()["detail"]
    project = roots / new_id("mine")
    project.mkdir()
    fake.add(Reply(text="done"))
    for method, path, body in surfaces(str(project)):
        allowed = await http.request(method, path, json=body, headers=user)
        assert allowed.status_code == 200, (path, allowed.text)


async def test_session_event_metadata_cannot_move_a_users_session_out_of_the_roots(http, user, roots):
    session_id = new_id("ev")
    assert (await http.post("/sessions", json={"session_id": session_id}, headers=user)).status_code == 200
    moved = await http.patch(f"/sessions/{session_id}/metadata", json={"project_dir": "/"}, headers=user)
    assert moved.status_code == 422, moved.text
    assert "PROJECT_ROOTS" in moved.json()["detail"]
    assert (await http.get(f"/sessions/{session_id}", headers=user)).json().get("project_dir") in (None, "")
    # A directory under the root may be named before it exists.
    later = roots / new_id("later")
    renamed = await http.patch(f"/sessions/{session_id}/metadata", json={"project_dir": str(later)}, headers=user)
    assert renamed.status_code == 200, renamed.text


async def test_a_users_task_never_runs_outside_the_roots(http, user, fake):
    """The attack of issue 13: a session-event session pointed at /etc, then
    the file tools of a task in it. Even where a directory outside the
    roots got into a user's session (here an administrator's PATCH; or
    rows stored before the rule), the run is refused."""
    session_id = new_id("ev")
    assert (await http.post("/sessions", json={"session_id": session_id}, headers=user)).status_code == 200
    assert (await http.patch(f"/sessions/{session_id}/metadata", json={"project_dir": "/etc"}, headers=ADMIN)).status_code == 200
    fake.add(Reply(tool_calls=[Call("read_file", {"path": "passwd"})]), Reply(text="here it is"))
    task = await http.post(f"/api/sessions/{session_id}/tasks", json={"description": "show passwd"}, headers=user)
    assert task.status_code == 403, task.text
    assert "PROJECT_ROOTS" in task.json()["detail"]
    fake.script.clear()


async def test_administrators_choose_any_directory(http, fake, tmp_path):
    fake.add(Reply(text="done"))
    for method, path, body in surfaces(str(tmp_path)):
        allowed = await http.request(method, path, json=body, headers=ADMIN)
        assert allowed.status_code == 200, (path, allowed.text)
    session_id = new_id("ev")
    assert (await http.post("/sessions", json={"session_id": session_id}, headers=ADMIN)).status_code == 200
    moved = await http.patch(f"/sessions/{session_id}/metadata", json={"project_dir": str(tmp_path)}, headers=ADMIN)
    assert moved.status_code == 200, moved.text
    # An administrator's session runs there.
    fake.add(Reply(text="looked"))
    task = await http.post(f"/api/sessions/{session_id}/tasks", json={"description": "look"}, headers=ADMIN)
    assert task.status_code == 200, task.text
    done = await wait_for(lambda: http.get(f"/api/tasks/{task.json()['id']}", headers=ADMIN), lambda r: r.json()["status"] == "completed")
    assert done.json()["status"] == "completed"


async def test_grpc_surfaces_follow_the_same_rule(runtime, user):
    metadata = (("authorization", user["authorization"]),)
    metadata_field = struct_pb2.Struct()
    metadata_field.update({"project_path": "/etc"})
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        sessions = session_pb2_grpc.SessionServiceStub(channel)
        agents = agent_pb2_grpc.AgentServiceStub(channel)
        own = new_id("ev")
        await sessions.CreateSession(session_pb2.CreateSessionRequest(session_id=own), metadata=metadata)
        for call in (
            sessions.CreateSession(session_pb2.CreateSessionRequest(session_id=new_id("ev"), project_dir="/etc"), metadata=metadata),
            sessions.UpdateSessionMetadata(session_pb2.UpdateSessionMetadataRequest(session_id=own, project_dir="/"), metadata=metadata),
            agents.CreateProjectSession(agent_pb2.CreateProjectSessionRequest(name="p", working_directory="/etc"), metadata=metadata),
            agents.ExecuteTask(agent_pb2.ExecuteTaskRequest(prompt="ls", context={"project_dir": "/etc"}), metadata=metadata),
            agents.CreateCodelabSession(agent_pb2.CreateCodelabSessionRequest(user_id="u", metadata=metadata_field), metadata=metadata),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value
            assert "PROJECT_ROOTS" in refused.value.details()


@pytest_asyncio.fixture(scope="module")
async def rootless(tmp_path_factory):
    async with running(identity_settings(tmp_path_factory.mktemp("rootless"))) as started:
        async with http_client(started, None) as client:
            yield client


async def test_without_project_roots_users_get_fresh_workspaces_only(rootless, tmp_path):
    """No PROJECT_ROOTS: a user names no directory at all (403 saying so);
    leaving it out gives a fresh workspace."""
    _, token = await new_user(rootless, "rootless")
    user = bearer(token)
    for method, path, body in surfaces(str(tmp_path)):
        refused = await rootless.request(method, path, json=body, headers=user)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["code"] == "FORBIDDEN" and "PROJECT_ROOTS" in refused.json()["detail"], refused.text
    session_id = new_id("ev")
    assert (await rootless.post("/sessions", json={"session_id": session_id}, headers=user)).status_code == 200
    moved = await rootless.patch(f"/sessions/{session_id}/metadata", json={"project_dir": "/"}, headers=user)
    assert moved.status_code == 403, moved.text
    fresh = await rootless.post("/api/sessions", json={"name": "scratch"}, headers=user)
    assert fresh.status_code == 200, fresh.text
    for method, path, body in surfaces(str(tmp_path))[:2]:
        assert (await rootless.request(method, path, json=body, headers=ADMIN)).status_code == 200


@pytest.mark.parametrize("root", ["{data}", "{data}/..", "{data}/workspaces", "relative/projects"])
def test_project_roots_never_reach_the_data_dir(tmp_path, root):
    """A root over or inside the data dir would let users choose the
    database, the JWT key or other users' workspaces."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    agents = dataclasses.replace(AgentsConfig(), project_roots=(root.format(data=data_dir),))
    with pytest.raises(ValueError, match="PROJECT_ROOTS"):
        check_settings(Settings(data_dir=data_dir, agents=agents))
    check_settings(Settings(data_dir=data_dir, agents=dataclasses.replace(agents, project_roots=(str(tmp_path / "projects"),))))
