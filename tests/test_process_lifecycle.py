"""The processes around the data, as a supervisor (systemd, Kubernetes)
drives them: kill -9 leaves no Envoy behind, one server per data dir, a
failed start exits with one line, Envoy's admin interface is no TCP port."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from agent_runtime.lifecycle import ChildRecord, process_start_time
from agent_runtime.server import start_runtime
from conftest import TEST_API_KEY, make_settings, running
from ports import free_port
from process_helpers import children

ROOT = pathlib.Path(__file__).resolve().parents[1]


def serve(data_dir: pathlib.Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "agent_runtime", "serve", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "AGENT_API_KEY": TEST_API_KEY, **(env or {})},
    )


def serve_until_exit(data_dir: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    # The timeout only keeps a hanging start from hanging the suite.
    return subprocess.run(
        [sys.executable, "-m", "agent_runtime", "serve", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=90, env={**os.environ, "AGENT_API_KEY": TEST_API_KEY},
    )


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one line a failed start prints (log lines may come before it),
    and never a traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("agent-runtime:")]
    return line


def wait_ready(process: subprocess.Popen) -> None:
    line = process.stdout.readline()
    assert "ready" in line, line + process.stderr.read()


def wait_gone(pid: int, started: str, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_start_time(pid) != started:
            return True
        time.sleep(0.1)
    return False


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


@pytest.mark.slow
def test_kill_9_takes_envoy_along_and_a_restart_binds_the_same_ports(tmp_path):
    http_port, grpc_port = free_port(), free_port()
    ports = ("--http-port", str(http_port), "--grpc-port", str(grpc_port))
    server = serve(tmp_path, *ports)
    try:
        wait_ready(server)
        [envoy] = children(server.pid)
        envoy_started = process_start_time(envoy)
        server.kill()
        server.wait(timeout=10)
        assert wait_gone(envoy, envoy_started), "Envoy outlived its server"
    finally:
        if server.poll() is None:
            server.kill()
    restarted = serve(tmp_path, *ports)
    try:
        wait_ready(restarted)
        assert httpx.get(f"http://127.0.0.1:{http_port}/health").status_code == 200
    finally:
        assert stop(restarted) == 0


@pytest.mark.slow
async def test_a_recorded_envoy_left_running_is_ended_before_the_ports_are_checked(tmp_path):
    """Where no parent-death signal ended it (another platform, a server
    started from a thread that exited): the record in the data dir names it."""
    from agent_runtime.gateway.envoy import admin_socket_path, envoy_binary, render_config

    settings = make_settings(tmp_path)
    config_dir = tmp_path / "envoy"
    config_dir.mkdir(mode=0o700)
    config = config_dir / "left.yaml"
    config.write_text(render_config(settings.server, grpc_port=free_port(), bridge_port=free_port(), admin_socket=admin_socket_path(config_dir), gateway_secret="s3cret"))
    left = subprocess.Popen([envoy_binary(), "-c", str(config), "--disable-hot-restart"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _listening(settings.server.http_port):
            assert time.monotonic() < deadline and left.poll() is None, "the left-behind Envoy did not start"
            time.sleep(0.1)
        ChildRecord(config_dir / "envoy.pid").write(left.pid)
        async with running(settings) as runtime:
            assert left.poll() is not None, "the recorded Envoy was ended"
            async with httpx.AsyncClient() as client:
                assert (await client.get(runtime.http_url + "/health")).status_code == 200
    finally:
        if left.poll() is None:
            left.kill()


def _listening(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    except httpx.TransportError:
        return False
    return True


@pytest.mark.slow
async def test_a_record_of_a_reused_pid_ends_nothing(tmp_path):
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        record = ChildRecord(tmp_path / "envoy.pid")
        record.path.write_text(f"{bystander.pid} 1\n")  # another start time: the pid was reused
        assert record.end_stale() is None
        assert bystander.poll() is None and not record.path.exists()
        record.write(bystander.pid)
        assert record.end_stale() == bystander.pid
        assert bystander.wait(timeout=10) == -signal.SIGKILL
    finally:
        if bystander.poll() is None:
            bystander.kill()


@pytest.mark.slow
async def test_a_second_server_on_the_same_data_dir_refuses_naming_the_first(tmp_path):
    async with running(make_settings(tmp_path, server={"run_envoy": False})):
        line = error_line(serve_until_exit(tmp_path, "--no-envoy", "--grpc-port", str(free_port())))
    assert line.startswith(f"agent-runtime: error: data dir {tmp_path} is in use by another agent-runtime (pid {os.getpid()})"), line
    # Released with the first server: a later start works.
    async with running(make_settings(tmp_path, server={"run_envoy": False})):
        pass


@pytest.mark.slow
def test_an_unreadable_database_ends_the_start_with_one_line(tmp_path):
    (tmp_path / "agent-runtime.sqlite3").write_bytes(b"this is not a database" * 100)
    line = error_line(serve_until_exit(tmp_path, "--no-envoy", "--grpc-port", str(free_port())))
    assert line.startswith(f"agent-runtime: error: database {tmp_path / 'agent-runtime.sqlite3'}: "), line
    assert "not a database" in line


@pytest.mark.slow
def test_an_unusable_signing_key_ends_the_start_with_one_line(tmp_path):
    (tmp_path / "jwt-signing-key").mkdir()
    line = error_line(serve_until_exit(tmp_path, "--no-envoy", "--grpc-port", str(free_port())))
    assert line.startswith("agent-runtime: error: JWT signing key: "), line


@pytest.mark.slow
def test_envoy_failing_to_start_ends_the_start_with_one_line(tmp_path):
    # Envoy cannot bind its admin socket where a directory is in the way.
    (tmp_path / "envoy" / "admin.sock").mkdir(parents=True)
    (tmp_path / "envoy" / "admin.sock" / "in-the-way").touch()
    result = serve_until_exit(tmp_path, "--http-port", str(free_port()), "--grpc-port", str(free_port()))
    assert error_line(result) == "agent-runtime: error: Envoy exited with code 1 while starting (its log above says why)"


@pytest.mark.slow
def test_a_taken_http_port_ends_the_start_with_one_line(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = serve_until_exit(tmp_path, "--http-port", str(port), "--grpc-port", str(free_port()))
    assert error_line(result) == f"agent-runtime: error: HTTP port 127.0.0.1:{port} is already in use"


def listening_tcp_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on: its socket inodes matched
    against the kernel's tables."""
    inodes = set()
    for fd in pathlib.Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for row in pathlib.Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.slow
async def test_envoy_admin_is_a_private_unix_socket_not_a_tcp_port(tmp_path):
    settings = make_settings(tmp_path, server={"compat_ports": (free_port(),)})
    async with running(settings) as runtime:
        envoy_pid = int((tmp_path / "envoy" / "envoy.pid").read_text().split()[0])
        assert listening_tcp_ports(envoy_pid) == {settings.server.http_port, *settings.server.compat_ports}
        socket_path = tmp_path / "envoy" / "admin.sock"
        assert (socket_path.stat().st_mode & 0o777) == 0o600
        assert ((tmp_path / "envoy").stat().st_mode & 0o777) == 0o700
        # Reachable by the server's own user, through the socket only.
        async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=str(socket_path))) as admin:
            assert (await admin.get("http://envoy/ready")).status_code == 200


async def test_start_failure_releases_the_data_dir(tmp_path):
    """What a failed start opened is closed again: the lock too, so a
    corrected start in the same process works."""
    taken = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        with pytest.raises(Exception, match="already in use"):
            await start_runtime(make_settings(tmp_path, server={"run_envoy": False, "grpc_port": taken}))
    async with running(make_settings(tmp_path, server={"run_envoy": False})):
        pass

