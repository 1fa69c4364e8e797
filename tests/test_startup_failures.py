"""A start that fails at any part stops what it had started, by the same
exit stack as a normal stop: no Envoy process, task, thread or listening
port is left behind, and the data dir is free for the next start."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from agent_helpers import wait_for
from agent_runtime.lifecycle import DataDirLock, StartupError
from agent_runtime.server import start_runtime
from ports import free_port
from conftest import make_settings, running
from process_helpers import host_processes


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def database_unreadable(data_dir, settings):
    (data_dir / "agent-runtime.sqlite3").write_bytes(b"this is not a database" * 100)
    return settings


def database_path_is_a_directory(data_dir, settings):
    (data_dir / "elsewhere.db").mkdir()
    return settings.replace(database_url=f"sqlite:///{data_dir}/elsewhere.db")


def signing_key_unusable(data_dir, settings):
    (data_dir / "jwt-signing-key").mkdir()
    return settings


def envoy_cannot_bind_its_admin_socket(data_dir, settings):
    (data_dir / "envoy" / "admin.sock" / "in-the-way").mkdir(parents=True)
    return settings


def grpc_port_taken(data_dir, settings):
    return settings


# Each: how the start is broken, whether Envoy is part of it, and the start
# of the one-line reason.
BREAKS = [
    pytest.param(database_unreadable, False, "database ", id="database-unreadable"),
    pytest.param(database_path_is_a_directory, False, "database ", id="database-path"),
    pytest.param(signing_key_unusable, False, "JWT signing key: ", id="signing-key"),
    pytest.param(grpc_port_taken, False, "gRPC port ", id="grpc-port-in-use"),
    pytest.param(envoy_cannot_bind_its_admin_socket, True, "Envoy exited", id="envoy-fails", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("breaking", "with_envoy", "reason"), BREAKS)
async def test_a_failed_start_leaves_nothing_behind(tmp_path, breaking, with_envoy, reason):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    grpc_port, http_port, bridge_port = free_port(), free_port(), free_port()
    settings = make_settings(
        data_dir, server={"run_envoy": with_envoy, "grpc_port": grpc_port, "http_port": http_port, "bridge_port": bridge_port}
    )
    # Threads that live as long as the process (gRPC's, the loop's default
    # executor) start with the first server: one before the count.
    async with running(make_settings(tmp_path / "warm-up", server={"run_envoy": with_envoy})):
        pass
    threads_before = set(threading.enumerate())
    tasks_before = asyncio.all_tasks()

    with socket.socket() as holder:
        if breaking is grpc_port_taken:
            holder.bind(("127.0.0.1", grpc_port))
            holder.listen()
        with pytest.raises(StartupError) as failed:
            await start_runtime(breaking(data_dir, settings))
    assert str(failed.value).startswith(reason), failed.value

    assert asyncio.all_tasks() - tasks_before == set()
    # A closed connection's thread ends on its own, just after the close.
    async def new_threads() -> list[str]:
        return [thread.name for thread in set(threading.enumerate()) - threads_before]

    await wait_for(new_threads, lambda names: names == [])
    assert host_processes(str(data_dir)) == []
    assert all(port_is_free(port) for port in (grpc_port, http_port, bridge_port))
    # The data dir's lock went with the rest.
    lock = DataDirLock(data_dir)
    lock.acquire()
    lock.release()
