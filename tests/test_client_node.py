"""The Node client package (clients/node): its example runs against a live
server, and the example type-checks against the generated declarations."""

from __future__ import annotations

import asyncio
import json
import pathlib
import re
import shutil
import subprocess

import pytest
import pytest_asyncio

from conftest import TEST_API_KEY, make_settings, running

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "clients" / "node"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("node") is None or not (PACKAGE / "node_modules").exists(),
        reason="needs Node.js and `npm ci --prefix clients/node` (scripts/install-client-tools; scripts/test runs it)",
    ),
]


@pytest_asyncio.fixture(scope="module")
async def server(tmp_path_factory):
    async with running(make_settings(tmp_path_factory.mktemp("data"), server={"run_envoy": False})) as started:
        yield started


async def quickstart(server, api_key: str) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(
        subprocess.run,
        ["node", "examples/quickstart.mjs", f"http://{server.grpc_target}", api_key],
        cwd=PACKAGE, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "SESSION_ID": "node-1"},
    )


async def test_the_node_example_runs_against_the_server(server):
    run = await quickstart(server, TEST_API_KEY)
    assert run.returncode == 0, run.stderr
    steps = {line["step"]: line for line in map(json.loads, run.stdout.splitlines())}
    assert steps["created"] == {"step": "created", "session_id": "node-1", "status": "running"}
    assert steps["events"]["event_types"] == ["pre_tool", "pre_tool"]
    assert steps["watched"] == {"step": "watched", "sequence": 2, "tool_name": "Edit"}
    assert steps["missing"]["reason"] == "SESSION_NOT_FOUND"


async def test_a_wrong_key_fails_with_the_reason(server):
    run = await quickstart(server, "wrong")
    assert run.returncode == 1
    assert run.stderr.startswith("failed: UNAUTHORIZED:")


@pytest.mark.long
async def test_the_example_type_checks_against_the_generated_declarations():
    check = await asyncio.to_thread(
        subprocess.run, ["npm", "run", "--silent", "typecheck"], cwd=PACKAGE, capture_output=True, text=True, timeout=300
    )
    assert check.returncode == 0, check.stdout + check.stderr


async def test_the_readme_snippet_runs(server):
    snippet = re.search(r"```js\n(.*?)```", (PACKAGE / "README.md").read_text(), re.DOTALL).group(1)
    # The README's server is scripts/serve's; this one listens elsewhere.
    snippet = snippet.replace("localhost:50051", server.grpc_target).replace("dev-api-key", TEST_API_KEY)
    run = await asyncio.to_thread(
        subprocess.run, ["node", "--input-type=module", "-e", snippet], cwd=PACKAGE, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "SESSION_NOT_FOUND"
