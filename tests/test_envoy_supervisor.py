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
