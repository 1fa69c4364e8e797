"""The wheel is the product: built with `pip wheel`, installed into a fresh
venv and started from an empty directory, it serves REST, gRPC reflection,
the OpenAPI document, the docs page and /ws with nothing from the checkout."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import site
import subprocess
import sys
import sysconfig

import grpc
import httpx
import pytest
import websockets
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ports import free_port

ROOT = pathlib.Path(__file__).resolve().parents[1]
API_KEY = "wheel-test-key"

pytestmark = pytest.mark.slow


def _run(*command: str, cwd: pathlib.Path | None = None) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=cwd)
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> pathlib.Path:
    """A venv holding only the built wheel. Its dependencies come from this
    test's own environment, appended to sys.path by a .pth line: a plain
    path line adds the directory without running the .pth files in it, so
    the checkout's editable install stays out of the fresh venv."""
    work = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(work / "dist"), str(ROOT))
    (wheel,) = (work / "dist").glob("agent_runtime-*.whl")
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    fresh_python = venv / "bin" / "python"
    fresh_site = pathlib.Path(_run(str(fresh_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    dependencies = [path for path in {*site.getsitepackages(), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")} if pathlib.Path(path).is_dir()]
    (fresh_site / "test-dependencies.pth").write_text("\n".join(dependencies) + "\n")
    _run(sys.executable, "-m", "pip", "--python", str(fresh_python), "install", "--no-deps", "--quiet", str(wheel))
    return venv


@pytest.fixture(scope="module")
def served(installed, tmp_path_factory):
    empty = tmp_path_factory.mktemp("empty-cwd")
    http_port, grpc_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    process = subprocess.Popen(
        [str(installed / "bin" / "agent-runtime"), "serve", "--http-port", str(http_port), "--grpc-port", str(grpc_port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=empty, env={**env, "AGENT_API_KEY": API_KEY},
    )
    try:
        ready = process.stdout.readline()
        assert "ready" in ready, ready + process.stderr.read()
        yield {"http": f"http://127.0.0.1:{http_port}", "grpc": f"127.0.0.1:{grpc_port}", "cwd": empty, "python": installed / "bin" / "python"}
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_wheel_carries_the_license(installed):
    """PEP 639 metadata: the SPDX expression and the LICENSE text."""
    site_packages = pathlib.Path(_run(str(installed / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    (dist_info,) = site_packages.glob("agent_runtime-*.dist-info")
    assert "License-Expression: Apache-2.0" in (dist_info / "METADATA").read_text().splitlines()
    assert (dist_info / "licenses" / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()


def test_the_installed_package_is_the_wheel_not_the_checkout(served):
    where = _run(str(served["python"]), "-c", "import agent_runtime, agentruntime.v1; print(agent_runtime.__file__); print(agentruntime.v1.__path__[0])", cwd=served["cwd"])
    for line in where.splitlines():
        assert "site-packages" in line and not line.startswith(str(ROOT)), where
    # The data dir defaults to ./data of the directory it was started in.
    assert (served["cwd"] / "data" / "agent-runtime.sqlite3").exists()


def test_rest_through_envoy(served):
    headers = {"x-api-key": API_KEY}
    created = httpx.post(served["http"] + "/sessions", json={"session_id": "wheel-1", "session_name": "Wheel"}, headers=headers)
    assert created.status_code == 200, created.text
    posted = httpx.post(served["http"] + "/events", json={"session_id": "wheel-1", "event_type": "pre_tool", "tool_name": "Bash"}, headers=headers)
    assert posted.status_code == 200, posted.text
    events = httpx.get(served["http"] + "/sessions/wheel-1/events", headers=headers).json()
    assert [event["tool_name"] for event in events["events"]] == ["Bash"]


def test_openapi_document_docs_page_and_console(served):
    document = httpx.get(served["http"] + "/openapi.json").json()
    assert document["openapi"] == "3.1.0" and "/sessions" in document["paths"]
    page = httpx.get(served["http"] + "/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    script = httpx.get(served["http"] + "/docs/swagger-ui-bundle.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in script.text
    console = httpx.get(served["http"] + "/console")
    assert console.status_code == 200 and "/console/app.js" in console.text
    module = httpx.get(served["http"] + "/console/app.js")
    assert module.status_code == 200 and "mountSessions" in module.text


async def test_grpc_reflection_lists_the_services(served):
    async with grpc.aio.insecure_channel(served["grpc"]) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)

        async def requests():
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        answers = [answer async for answer in stub.ServerReflectionInfo(requests())]
    services = {service.name for service in answers[0].list_services_response.service}
    assert {"agentruntime.v1.SessionService", "agentruntime.v1.AgentService", "agentruntime.v1.DocsService"} <= services


async def test_websocket_feed(served):
    url = served["http"].replace("http://", "ws://") + "/ws"
    async with websockets.connect(url, additional_headers={"x-api-key": API_KEY}) as socket:
        first = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert first["type"] == "connected"
