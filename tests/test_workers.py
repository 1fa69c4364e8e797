"""`agent-runtime serve --workers N`: N server processes on one PostgreSQL
behind one Envoy. Requests reach every worker; a worker killed with -9 costs
no request and is started again; SIGTERM drains them all and leaves no
process; what must be shared is (the JWT signing key, rate limits, the /ws
session list, compute tasks watched and cancelled through any worker); on
SQLite the start is refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
from typing import Iterator

import grpc
import httpx
import pytest
import pytest_asyncio
import websockets
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from agentruntime.v1 import compute_pb2, compute_pb2_grpc, identity_pb2, identity_pb2_grpc, session_pb2, session_pb2_grpc
from agent_runtime.lifecycle import process_start_time
from conftest import TEST_API_KEY, make_settings, running
from ports import free_port
from postgres_helpers import create_database
from process_helpers import children

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Per user and window: small enough to reach in a test, shared by the workers.
USER_LIMIT = 6


class Workers:
    """A running `serve --workers 2` and what a test needs to reach each
    worker past Envoy."""

    def __init__(self, process: subprocess.Popen, data_dir: pathlib.Path, http_port: int, grpc_ports: list[int], database_url: str):
        self.process = process
        self.database_url = database_url
        self.data_dir = data_dir
        self.http_url = f"http://127.0.0.1:{http_port}"
        self.grpc_ports = grpc_ports

    def worker_pid(self, index: int) -> int:
        return int((self.data_dir / "workers" / f"worker-{index}.pid").read_text().split()[0])

    def envoy_clusters(self) -> str:
        """Envoy's per-endpoint counters, from its admin socket."""
        transport = httpx.HTTPTransport(uds=str(self.data_dir / "envoy" / "admin.sock"))
        with httpx.Client(transport=transport) as admin:
            return admin.get("http://envoy/clusters").text

    def bridge_ports(self) -> list[int]:
        """The workers' bridges, in worker order, from Envoy's config."""
        config = (self.data_dir / "envoy" / "envoy.yaml").read_text()
        return [int(port) for port in re.findall(r'"port_value": (\d+)', config.split("cluster_name: ws_bridge", 1)[1])]

    def requests_per_port(self, cluster: str) -> dict[int, int]:
        return {
            int(port): int(count)
            for port, count in re.findall(rf"^{cluster}::127\.0\.0\.1:(\d+)::rq_total::(\d+)$", self.envoy_clusters(), re.M)
        }


def _serve(data_dir: pathlib.Path, database_url: str | None, *args: str) -> subprocess.Popen:
    env = {**os.environ, "AGENT_API_KEY": TEST_API_KEY, "RATE_LIMIT_AUTHENTICATED": str(USER_LIMIT)}
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.Popen(
        [sys.executable, "-m", "agent_runtime", "serve", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )


@contextlib.contextmanager
def _pool(data_dir: pathlib.Path, database_url: str) -> Iterator[Workers]:
    http_port, grpc_port = free_port(), free_port()
    process = _serve(data_dir, database_url, "--workers", "2", "--http-port", str(http_port), "--grpc-port", str(grpc_port))
    try:
        line = process.stdout.readline()
        assert "ready: 2 workers" in line, line + process.stderr.read()
        yield Workers(process, data_dir, http_port, [grpc_port, grpc_port + 1], database_url)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


@pytest.fixture
def workers(postgres_dsn, tmp_path):
    """A pool of a test's own, for a test that kills or stops it."""
    with _pool(tmp_path, postgres_dsn) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def shared_workers(postgres, tmp_path_factory):
    """One pool (on a database of its own) for the tests that leave it as
    it was: each pool start costs three processes' imports and Envoy."""
    with _pool(tmp_path_factory.mktemp("pool"), await create_database(postgres.dsn)) as started:
        yield started


def _wait_serving(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            try:
                answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
        time.sleep(0.2)
    raise AssertionError(f"worker on port {port} did not serve within {timeout}s")


def _user_token(workers: Workers, name: str) -> str:
    with httpx.Client(base_url=workers.http_url) as http:
        credentials = {"email": f"{name}@example.com", "password": "correct horse battery staple", "name": name}
        assert http.post("/api/auth/register", json=credentials).status_code in (200, 201)
        login = http.post("/api/auth/login", json={"email": credentials["email"], "password": credentials["password"]})
        assert login.status_code == 200, login.text
        return login.json()["access_token"]


def _current_user(port: int, token: str) -> tuple[identity_pb2.User, dict[str, str]]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        user, call = identity_pb2_grpc.IdentityServiceStub(channel).GetCurrentUser.with_call(
            identity_pb2.GetCurrentUserRequest(), metadata=[("authorization", f"Bearer {token}")], timeout=10
        )
    return user, dict(call.initial_metadata())


def test_more_than_one_worker_on_sqlite_is_refused_with_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "agent_runtime", "serve", "--data-dir", str(tmp_path), "--workers", "2"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={key: value for key, value in os.environ.items() if key != "DATABASE_URL"},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("agent-runtime: error: --workers 2 needs a database every worker shares: set DATABASE_URL to PostgreSQL")


def test_requests_reach_both_workers_and_a_killed_worker_costs_none_and_comes_back(workers):
    headers = {"x-api-key": TEST_API_KEY}
    with httpx.Client(base_url=workers.http_url, headers=headers) as http:
        for _ in range(40):
            answer = http.get("/sessions")
            assert answer.status_code == 200
            # REST clients get no grpc-* headers from the read route either.
            assert not [name for name in answer.headers if name.startswith("grpc-")]
        served = workers.requests_per_port("grpc_backend")
        assert all(served.get(port, 0) > 0 for port in workers.grpc_ports), served

        killed = workers.worker_pid(1)
        killed_started = process_start_time(killed)
        os.kill(killed, signal.SIGKILL)
        answers = [http.get("/sessions") for _ in range(100)]
        assert [answer.status_code for answer in answers] == [200] * 100, [a.text for a in answers if a.status_code != 200]

        # The parent starts it again on its port, and Envoy sends it requests.
        deadline = time.monotonic() + 60
        while process_start_time(killed) == killed_started and time.monotonic() < deadline:
            time.sleep(0.1)
        _wait_serving(workers.grpc_ports[1])
        assert workers.worker_pid(1) != killed
        before = workers.requests_per_port("grpc_backend").get(workers.grpc_ports[1], 0)
        deadline = time.monotonic() + 30
        while workers.requests_per_port("grpc_backend").get(workers.grpc_ports[1], 0) == before:
            assert time.monotonic() < deadline, "Envoy sent the restarted worker nothing"
            assert http.get("/sessions").status_code == 200
    assert "worker.exited" in _stop_and_read_stderr(workers)


def _stop_and_read_stderr(workers: Workers) -> str:
    workers.process.send_signal(signal.SIGTERM)
    _, stderr = workers.process.communicate(timeout=60)
    return stderr


def test_sigterm_drains_every_worker_then_envoy_and_leaves_no_process(workers):
    parent = workers.process.pid
    descendants = children(parent)
    descendants += [grandchild for child in descendants for grandchild in children(child)]
    started = {pid: process_start_time(pid) for pid in descendants}
    assert len(started) >= 3  # two workers and Envoy
    stderr = _stop_and_read_stderr(workers)
    assert workers.process.returncode == 0
    assert all(process_start_time(pid) != start for pid, start in started.items())
    events = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
    # Each worker stops, then Envoy, then the parent.
    stopped = [index for index, event in enumerate(events) if event == "server.stopped"]
    assert len(stopped) == 3 and stopped[1] < events.index("envoy.stopped") < stopped[2]
    assert not list((workers.data_dir / "workers").glob("worker-*.pid"))


async def test_a_token_from_one_worker_is_accepted_by_the_other_and_by_another_serve(shared_workers, tmp_path):
    token = _user_token(shared_workers, "shared-key")
    names = {_current_user(port, token)[0].name for port in shared_workers.grpc_ports}
    assert names == {"shared-key"}
    # Another `serve` on the same database (another machine, say).
    settings = make_settings(tmp_path / "elsewhere", server={"run_envoy": False}, database_url=shared_workers.database_url)
    async with running(settings) as elsewhere:
        # In a thread: the server runs on this test's event loop.
        user, _ = await asyncio.to_thread(_current_user, elsewhere.grpc_port, token)
    assert user.name == "shared-key"


def test_a_rate_limit_counts_requests_on_every_worker(shared_workers):
    token = _user_token(shared_workers, "limited")
    remaining = []
    for call in range(USER_LIMIT):
        _, headers = _current_user(shared_workers.grpc_ports[call % 2], token)
        assert headers["x-ratelimit-limit"] == str(USER_LIMIT)
        remaining.append(int(headers["x-ratelimit-remaining"]))
    assert remaining == list(range(USER_LIMIT - 1, -1, -1))
    for port in shared_workers.grpc_ports:
        with pytest.raises(grpc.RpcError) as refused:
            _current_user(port, token)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_a_session_created_on_one_worker_reaches_the_session_list_on_another(shared_workers):
    socket_url = f"ws://127.0.0.1:{shared_workers.bridge_ports()[0]}/ws"
    async with websockets.connect(socket_url, additional_headers={"x-api-key": TEST_API_KEY}) as socket:
        assert json.loads(await socket.recv())["type"] == "connected"
        assert json.loads(await socket.recv())["type"] == "init"
        with grpc.insecure_channel(f"127.0.0.1:{shared_workers.grpc_ports[1]}") as channel:
            session_pb2_grpc.SessionServiceStub(channel).CreateSession(
                session_pb2.CreateSessionRequest(session_id="across-workers", session_name="Across"),
                metadata=[("x-api-key", TEST_API_KEY)],
                timeout=10,
            )
        while (message := json.loads(await socket.recv()))["type"] == "heartbeat":
            pass
    assert message["type"] == "session_created"
    assert message["session"]["session_id"] == "across-workers"


async def test_a_compute_task_on_one_worker_is_watched_and_cancelled_through_the_other(shared_workers):
    api_key = [("x-api-key", TEST_API_KEY)]
    socket_url = f"ws://127.0.0.1:{shared_workers.bridge_ports()[1]}/ws"
    async with websockets.connect(socket_url, additional_headers={"x-api-key": TEST_API_KEY}) as socket:
        assert json.loads(await socket.recv())["type"] == "connected"
        assert json.loads(await socket.recv())["type"] == "init"

        async def next_update() -> dict:
            while (message := json.loads(await asyncio.wait_for(socket.recv(), 60)))["type"] != "task_update":
                pass
            return message["data"]

        with grpc.insecure_channel(f"127.0.0.1:{shared_workers.grpc_ports[0]}") as channel:
            parameters = struct_pb2.Struct()
            parameters.update({"size": 512, "iterations": 1000})
            task = compute_pb2_grpc.ComputeServiceStub(channel).CreateTask(
                compute_pb2.CreateTaskRequest(
                    operation="matrix_multiply", parameters=parameters, device_preference="cpu_0", wait=False
                ),
                metadata=api_key,
                timeout=10,
            )
        updates = [await next_update(), await next_update()]
        with grpc.insecure_channel(f"127.0.0.1:{shared_workers.grpc_ports[1]}") as channel:
            cancelled = compute_pb2_grpc.ComputeServiceStub(channel).CancelTask(
                compute_pb2.CancelTaskRequest(task_id=task.task_id), metadata=api_key, timeout=10
            )
        updates.append(await next_update())
    assert (cancelled.status, cancelled.error) == ("cancelled", "cancelled by request")
    assert [(u["task_id"], u["status"]) for u in updates] == [(task.task_id, s) for s in ("queued", "running", "cancelled")]


def test_a_worker_that_cannot_start_ends_the_start_with_its_reason(tmp_path):
    url = "postgresql://runtime:hunter2secret@127.0.0.1:1/agent_runtime"
    process = _serve(tmp_path, url, "--workers", "2", "--http-port", str(free_port()), "--grpc-port", str(free_port()))
    _, stderr = process.communicate(timeout=90)
    assert process.returncode == 1
    assert "Traceback" not in stderr and "hunter2secret" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("agent-runtime:")]
    assert any(line.startswith("agent-runtime: error: worker 0: database postgresql://runtime:***@127.0.0.1:1/") for line in lines), lines
    assert lines[-1].startswith("agent-runtime: error: worker ") and "exited with code 1 while starting" in lines[-1]
    assert not list((tmp_path / "workers").glob("worker-*.pid"))
