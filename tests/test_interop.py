"""Clients nobody here wrote: Node's @grpc/grpc-js (from the .proto files),
a browser-style CORS + WebSocket client (Node fetch + `ws`), grpcurl and
buf curl by reflection."""

from __future__ import annotations

import asyncio
import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import TEST_API_KEY

ROOT = pathlib.Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "interop" / "node"
BIN = pathlib.Path(sys.executable).parent

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules").exists(),
    reason="needs Node.js and `npm ci --prefix interop/node` (scripts/test does both when node exists)",
)


async def node(script: str, *args: str) -> dict:
    result = await asyncio.to_thread(
        subprocess.run, ["node", str(NODE_DIR / script), *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


async def test_grpc_js_calls_every_service(runtime):
    report = await node(
        "grpc_client.mjs", runtime.grpc_target, TEST_API_KEY, str(ROOT / "proto"), str(ROOT / ".build" / "third_party")
    )
    assert not report["failures"], report["failures"]
    assert {"SessionService", "ComputeService", "DocsService"} <= set(report["services"])
    assert report["services"]["ComputeService"]["GetHealth"] == "OK"
    assert report["services"]["SessionService"]["ListSessions"] == "OK"
    assert report["stream"]["feed"][0] == "init" and report["stream"]["role"] == "assistant"


async def test_browser_style_cors_and_websocket(runtime):
    report = await node("ws_client.mjs", runtime.http_url, TEST_API_KEY, "http://localhost:5173")
    assert report["preflight"] == {"status": 200, "allowOrigin": "http://localhost:5173"}
    assert report["create"]["status"] == 200 and report["create"]["allowOrigin"] == "http://localhost:5173"
    assert report["messages"][:2] == ["connected", "init"] and report["event"]["tool_name"] == "Read"


async def test_buf_curl_by_reflection(runtime):
    result = await asyncio.to_thread(
        subprocess.run,
        [str(BIN / "buf"), "curl", "--protocol", "grpc", "--http2-prior-knowledge", "-H", f"x-api-key: {TEST_API_KEY}",
         "--data", '{"session_id": "buf-curl"}', f"http://{runtime.grpc_target}/agentruntime.v1.SessionService/CreateSession"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["session"]["sessionId"] == "buf-curl"
