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
    async with running(make_settings(tmp_path_factory.mktemp("data"), server={"run_envoy": False})) as started:
        yield started


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory) -> pathlib.Path:
    """The example program, built offline (clients/go/debian-go)."""
    binary = tmp_path_factory.mktemp("go") / "quickstart"
    build = subprocess.run(
        [str(GO_MODULE / "debian-go"), "build", "-o", str(binary), "./examples/quickstart"],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    return binary


async def run(*command: str) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)


@pytest.mark.long
async def test_the_go_example_runs_against_the_server(server, quickstart):
    result = await run(str(quickstart), "-target", server.grpc_target, "-api-key", TEST_API_KEY, "-session", "go-1")
    assert result.returncode == 0, result.stderr
    steps = {line["step"]: line for line in map(json.loads, result.stdout.splitlines())}
    assert steps["created"] == {"step": "created", "session_id": "go-1", "status": "running"}
    assert steps["events"]["event_types"] == ["pre_tool", "pre_tool"]
    assert steps["watched"] == {"step": "watched", "sequence": 2, "tool_name": "Edit"}
    assert steps["missing"]["reason"] == "SESSION_NOT_FOUND"


async def test_a_wrong_key_fails_with_the_reason(server, quickstart):
    result = await run(str(quickstart), "-target", server.grpc_target, "-api-key", "wrong")
    assert result.returncode == 1
    assert "reason UNAUTHORIZED" in result.stderr
