"""The Python client library (clients/python) against a live gRPC server:
credentials, the error model as exceptions with ErrorInfo.reason, the
blocking twin, and event streams that resume by sequence across a restart."""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest
import pytest_asyncio
from agentruntime.v1 import agent_pb2, identity_pb2, session_pb2
from google.protobuf import struct_pb2

from agent_runtime_client import (
    AsyncClient,
    Client,
    InvalidArgumentError,
    NotFoundError,
    UnauthenticatedError,
)
from conftest import TEST_API_KEY, make_settings, running
from llm_fakes import Reply
from ports import free_port


CLIENT_DIR = pathlib.Path(__file__).resolve().parents[1] / "clients" / "python"


def run_python(code: str, pythonpath: list[pathlib.Path], cwd: pathlib.Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath))}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)


@pytest_asyncio.fixture(scope="module")
async def server(tmp_path_factory, fake):
    llm = {"openai_base_url": fake.base_url, "max_retries": 0, "timeout_seconds": 10}
    async with running(make_settings(tmp_path_factory.mktemp("data"), llm=llm, server={"run_envoy": False})) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def client(server):
    async with AsyncClient(server.grpc_target, api_key=TEST_API_KEY) as opened:
        yield opened


def tool_event(tool: str) -> session_pb2.Event:
    tool_input = struct_pb2.Struct()
    tool_input.update({"file_path": f"{tool}.py"})
    return session_pb2.Event(event_type="pre_tool", tool_name=tool, tool_input=tool_input)


async def test_calls_and_streams_with_an_api_key(client):
    created = await client.sessions.CreateSession(session_pb2.CreateSessionRequest(session_id="py-1", session_name="Py"))
    assert created.session.status == "running"
    await client.sessions.CreateEvent(session_pb2.CreateEventRequest(session_id="py-1", event=tool_event("Read")))
    listed = await client.sessions.ListEvents(session_pb2.ListEventsRequest(session_id="py-1"))
    assert [event.tool_name for event in listed.events] == ["Read"]
    # A streamed response: the feed starts with its `init` snapshot.
    async for message in client.sessions.WatchSessions(session_pb2.WatchSessionsRequest(session_id="py-1")):
        assert message.type == "init" and [s.session_id for s in message.sessions] == ["py-1"]
        break


async def test_a_missing_resource_raises_not_found_with_the_documented_reason(client):
    with pytest.raises(NotFoundError) as raised:
        await client.sessions.GetSession(session_pb2.GetSessionRequest(session_id="nobody"))
    assert raised.value.reason == "SESSION_NOT_FOUND"
    assert raised.value.http_status == 404
    assert "nobody" in raised.value.detail


async def test_a_field_rule_violation_names_the_field(client):
    with pytest.raises(InvalidArgumentError) as raised:
        await client.sessions.CreateSession(session_pb2.CreateSessionRequest(session_id="no spaces allowed"))
    # The session-event document answers a bad id with 400 BAD_REQUEST.
    assert raised.value.reason == "BAD_REQUEST" and raised.value.http_status == 400
    assert raised.value.field_errors == {"session_id": "must match ^[A-Za-z0-9._:@-]+$"}


async def test_a_wrong_key_raises_unauthenticated(server):
    async with AsyncClient(server.grpc_target, api_key="not-the-key") as intruder:
        with pytest.raises(UnauthenticatedError) as raised:
            await intruder.sessions.ListSessions(session_pb2.ListSessionsRequest())
    assert raised.value.reason == "UNAUTHORIZED" and raised.value.http_status == 401


async def test_a_streamed_call_raises_the_error_model_too(client):
    with pytest.raises(InvalidArgumentError) as raised:
        async for _ in client.sessions.WatchSessions(session_pb2.WatchSessionsRequest(after_sequence=3)):
            pass
    assert "session_id" in raised.value.detail


async def test_a_bearer_token_from_login_authenticates(client, server):
    await client.identity.Register(identity_pb2.RegisterRequest(email="ada@example.com", password="correct horse battery"))
    login = await client.identity.Login(identity_pb2.LoginRequest(email="ada@example.com", password="correct horse battery"))
    async with AsyncClient(server.grpc_target, bearer_token=login.access_token) as user:
        me = await user.identity.GetCurrentUser(identity_pb2.GetCurrentUserRequest())
    assert me.email == "ada@example.com"


async def test_the_blocking_client_behaves_the_same(server):
    def use_blocking_client():
        with Client(server.grpc_target, api_key=TEST_API_KEY) as blocking:
            blocking.sessions.CreateSession(session_pb2.CreateSessionRequest(session_id="sync-1"))
            with pytest.raises(NotFoundError) as raised:
                blocking.sessions.GetSession(session_pb2.GetSessionRequest(session_id="sync-missing"))
            for sequence in (1, 2):
                blocking.sessions.CreateEvent(session_pb2.CreateEventRequest(session_id="sync-1", event=tool_event(f"T{sequence}")))
            replayed = []
            for event in blocking.session_events("sync-1", after_sequence=1):
                replayed.append(event)
                break
            return raised.value.reason, [(event.sequence, event.tool_name) for event in replayed]

    reason, replayed = await asyncio.to_thread(use_blocking_client)
    assert reason == "SESSION_NOT_FOUND"
    assert replayed == [(2, "T2")]


async def test_task_events_follow_an_agent_task_and_replay_after_a_sequence(client, fake, project):
    fake.add(Reply(text="Done."))
    task = await client.agents.ExecuteTask(
        agent_pb2.ExecuteTaskRequest(prompt="Say done", context={"working_directory": str(project)}, tools=["read_file"])
    )
    events = [event async for event in client.task_events(task.task_id)]
    assert events[-1].type == "status" and events[-1].status == "completed"
    assert [event.sequence for event in events] == list(range(1, len(events) + 1))
    replayed = [event async for event in client.task_events(task.task_id, after_sequence=2)]
    assert replayed == events[2:]


async def test_run_events_replay_a_codelab_run_after_a_sequence(client, fake, project):
    fake.add(Reply(text="Hello from the orchestrator"))
    metadata = struct_pb2.Struct()
    metadata.update({"project_path": str(project)})
    session = await client.agents.CreateCodelabSession(agent_pb2.CreateCodelabSessionRequest(user_id="u1", metadata=metadata))
    message = agent_pb2.AgentMessage(type="user_message", content="say hello")
    streamed = [event async for event in client.agents.SendAgentMessage(
        agent_pb2.SendAgentMessageRequest(session_id=session.session_id, message=message)
    )]
    assert streamed[-1].type == "done"
    task_id = streamed[-1].task_id
    assert [event async for event in client.run_events(task_id)] == streamed
    assert [event async for event in client.run_events(task_id, after_sequence=streamed[0].sequence)] == streamed[1:]
    # After its last event, a finished run answers just how it ended.
    assert [event async for event in client.run_events(task_id, after_sequence=streamed[-1].sequence)] == streamed[-1:]


@pytest.mark.slow
async def test_session_events_resume_by_sequence_across_a_restart(tmp_path):
    # A fixed port: the restarted server must be where the client reconnects.
    settings = make_settings(tmp_path / "data", server={"run_envoy": False, "grpc_port": free_port()})

    async def append(client: AsyncClient, *tools: str):
        for tool in tools:
            await client.sessions.CreateEvent(session_pb2.CreateEventRequest(session_id="resumed", event=tool_event(tool)))

    async with AsyncClient(f"127.0.0.1:{settings.server.grpc_port}", api_key=TEST_API_KEY) as client:
        async with running(settings):
            await client.sessions.CreateSession(session_pb2.CreateSessionRequest(session_id="resumed"))
            await append(client, "First", "Second")
            events = client.session_events("resumed", after_sequence=1)
            received = [await asyncio.wait_for(anext(events), timeout=30)]
        # Appended while the stream is broken and before the client reads
        # on: only a reconnect after sequence 2 can deliver them.
        async with running(settings):
            await append(client, "Third", "Fourth")
            received += [await asyncio.wait_for(anext(events), timeout=60) for _ in range(2)]
            await events.aclose()
    assert [(event.sequence, event.tool_name) for event in received] == [(2, "Second"), (3, "Third"), (4, "Fourth")]


async def test_the_readme_examples_run_as_written(server, tmp_path):
    readme = (CLIENT_DIR / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    outputs = []
    for block in blocks:
        # The README's server is scripts/serve's; this one listens elsewhere.
        code = block.replace("localhost:50051", server.grpc_target).replace("dev-api-key", TEST_API_KEY)
        run = await asyncio.to_thread(run_python, code, [CLIENT_DIR / "src", CLIENT_DIR.parents[1] / "gen"], tmp_path)
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout.split())
    assert outputs == [["2", "Edit", "SESSION_NOT_FOUND", "404"], ["healthy"]]


@pytest.mark.long
async def test_the_wheel_carries_the_client_and_the_generated_stubs(tmp_path):
    build = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(CLIENT_DIR)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("agent_runtime_client-*.whl")
    assert {"agentruntime/v1/session_pb2_grpc.py", "agentruntime/v1/session_pb2.pyi"} <= set(zipfile.ZipFile(wheel).namelist())
    # The client imports from the wheel (a pure-Python wheel imports as a
    # zip); this venv's editable server install keeps serving agentruntime.
    run = await asyncio.to_thread(
        run_python, "import agent_runtime_client; print(agent_runtime_client.__file__)", [wheel], tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(str(wheel))
