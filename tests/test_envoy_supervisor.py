"""The Envoy supervisor on a real Envoy: restarts after a crash with a
backoff that starts over once Envoy has run healthy for a while."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from agent_runtime.gateway.envoy import EnvoySupervisor, admin_socket_path, render_config
from conftest import make_settings
from ports import free_port


@pytest.mark.slow
async def test_restart_backoff_starts_over_after_a_healthy_interval(tmp_path):
    config_dir = tmp_path / "envoy"
    config_dir.mkdir(mode=0o700)
    config = config_dir / "envoy.yaml"
    config.write_text(
        render_config(make_settings(tmp_path).server, grpc_port=free_port(), bridge_port=free_port(), admin_socket=admin_socket_path(config_dir), gateway_secret="s3cret")
    )
    now = 0.0
    delays: list[float] = []

    async def recorded_sleep(seconds: float) -> None:
        delays.append(seconds)

    supervisor = EnvoySupervisor(config, healthy_after_seconds=60, clock=lambda: now, sleep=recorded_sleep)
    await supervisor.start()
    try:
        # Two crashes at once, then one after a long healthy run.
        for ran_for in (0, 0, 120):
            now += ran_for
            crashed = supervisor.pid
            os.kill(crashed, signal.SIGKILL)
            while supervisor.pid == crashed:
                await asyncio.sleep(0.05)
    finally:
        await supervisor.stop()
    assert delays == [0.5, 1.0, 0.5]
    assert supervisor.exit_codes == [-signal.SIGKILL] * 3


@pytest.mark.slow
async def test_a_drained_envoy_takes_no_new_connections(tmp_path):
    config_dir = tmp_path / "envoy"
    config_dir.mkdir(mode=0o700)
    settings = make_settings(tmp_path).server
    admin_socket = admin_socket_path(config_dir)
    config = config_dir / "envoy.yaml"
    config.write_text(render_config(settings, grpc_port=free_port(), bridge_port=free_port(), admin_socket=admin_socket, gateway_secret="s3cret"))
    supervisor = EnvoySupervisor(config, admin_socket=admin_socket)
    await supervisor.start()
    try:
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", settings.http_port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        await supervisor.drain()
        # The admin call returns before the listeners have closed.
        refused = False
        for _ in range(50):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", settings.http_port)
                writer.close()
                await asyncio.sleep(0.1)
            except OSError:
                refused = True
                break
        assert refused
    finally:
        await supervisor.stop()
