"""The Go client module (clients/go): CI builds its example program offline
against Debian's Go packages and runs it against a live server."""

from __future__ import annotations

import asyncio
import json
import pathlib
import shutil
import subprocess

import pytest
import pytest_asyncio

from conftest import TEST_API_KEY, make_settings, running

GO_MODULE = pathlib.Path(__file__).resolve().parents[1] / "clients" / "go"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("go") is None,
        reason="needs Go and the Debian Go gRPC packages (scripts/install-client-tools; scripts/test runs it)",
    ),
]


@pytest_asyncio.fixture(scope="module")
async def server(tmp_path_factory):
    async with running(make_settings(tmp_path_factory.mktemp("data"), run_envoy=False)) as started:
        yield started


async def test_the_go_example_runs_against_the_server(server, tmp_path):
    binary = tmp_path / "quickstart"
    build = await asyncio.to_thread(
        subprocess.run,
        [str(GO_MODULE / "debian-go"), "build", "-o", str(binary), "./examples/quickstart"],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    run = await asyncio.to_thread(
        subprocess.run,
        [str(binary), "-target", server.grpc_target, "-api-key", TEST_API_KEY, "-session", "go-1"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    steps = {line["step"]: line for line in map(json.loads, run.stdout.splitlines())}
    assert steps["created"] == {"step": "created", "session_id": "go-1", "status": "running"}
    assert steps["events"]["event_types"] == ["pre_tool", "pre_tool"]
    assert steps["watched"] == {"step": "watched", "sequence": 2, "tool_name": "Edit"}
    assert steps["missing"]["reason"] == "SESSION_NOT_FOUND"


async def test_a_wrong_key_fails_with_the_reason(server, tmp_path):
    run = await asyncio.to_thread(
        subprocess.run,
        [str(GO_MODULE / "debian-go"), "run", "./examples/quickstart", "-target", server.grpc_target, "-api-key", "wrong"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 1
    assert "reason UNAUTHORIZED" in run.stderr
