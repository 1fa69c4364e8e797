"""SIGTERM drains instead of cutting: a REST write in flight is answered
(and stored once), /ws clients get `server_stopping` and close 1001 with
their resume cursor, a run's SSE stream ends with a `server_stopping` event
naming the sequence to resume after; after the restart each resumes exactly
once. A real `agent-runtime serve` with Envoy, and the scripted model."""

from __future__ import annotations

import asyncio
import json
import pathlib
import signal
import sqlite3

import grpc
import httpx
import pytest
import websockets

from google.rpc import error_details_pb2, status_pb2

from agentruntime.v1 import session_pb2, session_pb2_grpc
from agent_helpers import git_project, sse
from agent_runtime.server import start_runtime
from conftest import TEST_API_KEY, grpc_metadata, make_settings
from llm_fakes import Call, FakeOpenAI, Reply
from ports import free_port
from test_process_lifecycle import serve, wait_ready



class Server:
    """`agent-runtime serve` on fixed ports and data dir, restartable."""

    def __init__(self, data_dir: pathlib.Path, env: dict | None = None):
        self.data_dir = data_dir
        self.env = env or {}
        self.http_port, self.grpc_port = free_port(), free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        self.process = serve(self.data_dir, "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port), env=self.env)
        wait_ready(self.process)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    async def exited(self) -> int:
        return await asyncio.to_thread(self.process.wait, 60)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()


def client(server: Server) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers={"x-api-key": TEST_API_KEY}, timeout=30)


@pytest.mark.slow
async def test_a_rest_write_in_flight_during_sigterm_is_answered_and_stored_once(tmp_path):
    server = Server(tmp_path)
    server.start()
    try:
        async with client(server) as http:
            assert (await http.post("/sessions", json={"session_id": "drain"})).status_code == 200
            # Another process holds SQLite's write lock: the write waits in the server.
            blocker = sqlite3.connect(tmp_path / "agent-runtime.sqlite3", isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")
            try:
                write = asyncio.create_task(
                    http.post("/sessions/drain/events", json={"event_type": "pre_tool", "tool_name": "in-flight"})
                )
                await asyncio.sleep(0.5)
                assert not write.done()
                server.terminate()
                await asyncio.sleep(0.5)
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            response = await write
        assert await server.exited() == 0
    finally:
        server.kill()
    with sqlite3.connect(tmp_path / "agent-runtime.sqlite3") as stored:
        bodies = [json.loads(body) for (body,) in stored.execute("SELECT body FROM events WHERE session_id = 'drain'")]
    stored_names = [body.get("tool_name") for body in bodies]
    # Answered and stored once; or, had the stop come before the write
    # reached the server (a loaded machine), refused and not stored.
    assert (response.status_code, stored_names) in ((200, ["in-flight"]), (503, [])), (response.text, stored_names)


async def read_until_closed(socket) -> list[dict]:
    messages = []
    try:
        while True:
            messages.append(json.loads(await asyncio.wait_for(socket.recv(), 30)))
    except websockets.ConnectionClosed:
        return [m for m in messages if m["type"] != "heartbeat"]


@pytest.mark.slow
async def test_ws_and_sse_end_cleanly_on_sigterm_and_resume_exactly_once(tmp_path):
    project = git_project(tmp_path / "project")
    script = [
        Reply(tool_calls=[Call("read_file", {"path": "README.md"}, id="read1")]),
        # Still thinking when the server stops; the resumed run asks again.
        Reply(text="never sent", delay=120),
        Reply(text="All done"),
    ]
    async with FakeOpenAI(script) as fake:
        server = Server(tmp_path / "data", env={"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-test", "LLM_MAX_RETRIES": "0"})
        server.start()
        try:
            async with client(server) as http:
                await http.post("/sessions", json={"session_id": "feed"})
                for index in range(2):
                    await http.post("/sessions/feed/events", json={"event_type": "pre_tool", "tool_input": {"i": index}})
                ws = await websockets.connect(
                    server.url.replace("http", "ws") + "/ws?session_id=feed", additional_headers={"x-api-key": TEST_API_KEY}
                )
                session = (await http.post("/api/v1/sessions", json={"user_id": "u", "metadata": {"project_path": str(project)}})).json()
                body = {"session_id": session["session_id"], "message": {"type": "user_message", "content": "read it"}}
                streaming = asyncio.create_task(sse(http, "/agent/message/stream", body))
                # The run is live: its second model call is waiting.
                async with asyncio.timeout(60):
                    while len(fake.requests) < 2:
                        await asyncio.sleep(0.05)
                server.terminate()
                first = await asyncio.wait_for(streaming, 60)
                feed = await read_until_closed(ws)
            assert await server.exited() == 0
        finally:
            server.kill()

        # /ws: told where to resume, then 1001 going away.
        assert feed[-1]["type"] == "server_stopping" and feed[-1]["resume"] == {"session_id": "feed", "after_sequence": 2}
        assert ws.close_code == 1001, (ws.close_code, ws.close_reason)
        # SSE: the last event names the sequence to resume after.
        stopping = first[-1]
        assert stopping["type"] == "server_stopping" and stopping["code"] == "SERVER_STOPPING"
        assert stopping["sequence"] == first[-2]["sequence"] and "after_sequence" in stopping["reason"]

        server.start()
        try:
            async with client(server) as http:
                await http.post("/sessions/feed/events", json={"event_type": "pre_tool", "tool_input": {"i": 2}})
                query = "&".join(f"{k}={v}" for k, v in feed[-1]["resume"].items())
                async with websockets.connect(
                    server.url.replace("http", "ws") + f"/ws?{query}", additional_headers={"x-api-key": TEST_API_KEY}
                ) as resumed_ws:
                    seen = []
                    while len(seen) < 2:
                        message = json.loads(await asyncio.wait_for(resumed_ws.recv(), 30))
                        if message["type"] == "event":
                            seen.append(message["data"]["sequence"])
                        if seen == [3]:
                            await http.post("/sessions/feed/events", json={"event_type": "pre_tool", "tool_input": {"i": 3}})
                    assert seen == [3, 4]

                task_id = stopping["task_id"]
                rest = await sse(http, f"/agent/runs/{task_id}/stream", params={"after_sequence": stopping["sequence"]})
                assert rest[-1]["type"] == "done" and rest[-1]["status"] == "completed", rest
                whole = await sse(http, f"/agent/runs/{task_id}/stream", params={"after_sequence": 0})
                assert whole == first[:-1] + rest, "every event exactly once, in order"
        finally:
            server.terminate()
            await server.exited()
            server.kill()


async def test_a_grpc_stream_ends_unavailable_with_a_retry_hint(tmp_path):
    runtime = await start_runtime(make_settings(tmp_path, server={"run_envoy": False}))
    stopping = None
    try:
        async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
            stub = session_pb2_grpc.SessionServiceStub(channel)
            call = stub.WatchSessions(session_pb2.WatchSessionsRequest(), metadata=grpc_metadata())
            assert (await call.read()).type == "init"
            stopping = asyncio.create_task(runtime.stop())
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                await call.read()
    finally:
        await (stopping or runtime.stop())
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    status = status_pb2.Status.FromString(dict(ended.value.trailing_metadata())["grpc-status-details-bin"])
    info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info) and info.reason == "SERVER_STOPPING"
    assert status.details[1].Unpack(retry) and retry.retry_delay.seconds > 0
