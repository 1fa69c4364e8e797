"""The codelab document's error codes, each provoked for real through the
codelab endpoints (Envoy, and gRPC where it adds something):

| code                  | where it surfaces                                        |
| SESSION_NOT_FOUND     | HTTP 404 on /api/v1/sessions/{id} and the message stream |
| CONTEXT_TOO_LARGE     | HTTP 413 on the message stream (before its first event)  |
| DATABASE_ERROR        | HTTP 500 when SQLite fails (here: locked by another      |
|                       | process past busy_timeout)                               |
| INVALID_TOOL          | in-band: `tool_result` event with `code`, the run goes on |
| TOOL_EXECUTION_FAILED | in-band: `tool_result` event with `code`, the run goes on |
| LLM_ERROR             | in-band: `error` event with `code`, then `done` failed   |

The in-band ones happen after the stream has started (its 200 and headers
are sent), so they cannot change the HTTP status; the run's task keeps them
too. Every HTTP error body is {"detail", "code", "timestamp"}."""

from __future__ import annotations

import sqlite3
import time

import grpc
import pytest
import pytest_asyncio
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from agentruntime.v1 import agent_pb2, agent_pb2_grpc
from agent_helpers import codelab_session, sse, unsequenced
from conftest import grpc_metadata, make_settings, running
from llm_fakes import Call, Reply
from test_sessions_rest import assert_error

pytestmark = pytest.mark.slow


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory, fake):
    llm = {"openai_base_url": fake.base_url, "max_retries": 0, "timeout_seconds": 10}
    async with running(make_settings(tmp_path_factory.mktemp("data"), llm=llm, agents={"hitl_dangerous_tools": ()})) as started:
        yield started


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    info = error_details_pb2.ErrorInfo()
    rpc_status.from_call(error).details[0].Unpack(info)
    return info


def message(session_id: str, content: str) -> dict:
    return {"session_id": session_id, "message": {"type": "user_message", "content": content}}


async def test_session_not_found_is_404(http, runtime):
    assert "missing-1" in assert_error(await http.get("/api/v1/sessions/missing-1"), 404, "SESSION_NOT_FOUND")["detail"]
    assert_error(await http.delete("/api/v1/sessions/missing-1"), 404, "SESSION_NOT_FOUND")
    assert_error(await http.post("/agent/message/stream", json=message("missing-1", "hi")), 404, "SESSION_NOT_FOUND")
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.GetCodelabSession(agent_pb2.GetCodelabSessionRequest(session_id="missing-1"), metadata=grpc_metadata())
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    info = error_info(missing.value)
    assert info.reason == "SESSION_NOT_FOUND" and info.metadata["http_status"] == "404"


async def test_context_too_large_is_413(http, runtime, project, fake):
    session_id = await codelab_session(http, project)
    count = len(fake.requests)
    response = await http.post("/agent/message/stream", json=message(session_id, "x" * 100_001))
    assert "100000 characters" in assert_error(response, 413, "CONTEXT_TOO_LARGE")["detail"]
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        request = agent_pb2.SendAgentMessageRequest(
            session_id=session_id, message=agent_pb2.AgentMessage(type="user_message", content="x" * 100_001)
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in stub.SendAgentMessage(request, metadata=grpc_metadata()):
                pass
    info = error_info(refused.value)
    assert info.reason == "CONTEXT_TOO_LARGE" and info.metadata["http_status"] == "413"
    assert len(fake.requests) == count  # refused before any model call


async def test_database_error_is_500(http, runtime):
    # Another process holds SQLite's write lock longer than the server's
    # busy_timeout (5 s): the write fails and the client is told so.
    blocker = sqlite3.connect(runtime.settings.database_path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        response = await http.post("/api/v1/sessions", json={"user_id": "user_db"})
        body = assert_error(response, 500, "DATABASE_ERROR")
        assert "database is locked" in body["detail"] and time.monotonic() - started >= 4
    finally:
        blocker.rollback()
        blocker.close()
    # Lock released: the same request succeeds.
    assert (await http.post("/api/v1/sessions", json={"user_id": "user_db"})).status_code == 200


async def test_invalid_tool_is_an_in_band_tool_result(http, fake, project):
    session_id = await codelab_session(http, project)
    # The orchestrator (the default agent) may not delete files.
    fake.add(Reply(tool_calls=[Call("delete_file", {"path": "README.md"}, id="d1")]), Reply(text="I may not delete files."))
    events = await sse(http, "/agent/message/stream", message(session_id, "delete the readme"))
    [refused] = [e for e in events if e["type"] == "tool_result"]
    assert refused["code"] == "INVALID_TOOL" and refused["success"] is False and refused["call_id"] == "d1"
    assert "delete_file" in refused["result"] and (project / "README.md").exists()
    assert unsequenced(events[-1]) == {"type": "done", "status": "completed", "task_id": refused["task_id"]}


async def test_tool_execution_failed_is_an_in_band_tool_result(http, fake, project):
    session_id = await codelab_session(http, project)
    fake.add(Reply(tool_calls=[Call("read_file", {"path": "missing.txt"}, id="r1")]), Reply(text="That file does not exist."))
    events = await sse(http, "/agent/message/stream", message(session_id, "show missing.txt"))
    [failed] = [e for e in events if e["type"] == "tool_result"]
    assert failed["code"] == "TOOL_EXECUTION_FAILED" and failed["success"] is False and "missing.txt" in failed["result"]
    # The model is told and answers; the run itself completes.
    assert fake.requests[-1]["messages"][-1]["role"] == "tool"
    assert events[-1]["type"] == "done" and events[-1]["status"] == "completed"
    # A tool that works has no code.
    fake.add(Reply(tool_calls=[Call("read_file", {"path": "README.md"}, id="r2")]), Reply(text="It says hello."))
    [worked] = [e for e in await sse(http, "/agent/message/stream", message(session_id, "show README.md")) if e["type"] == "tool_result"]
    assert worked["success"] is True and "code" not in worked


async def test_llm_error_is_an_in_band_error_event(http, fake, project):
    session_id = await codelab_session(http, project)
    fake.add(Reply(status=500, error_body={"error": {"message": "upstream exploded", "type": "server_error"}}))
    events = await sse(http, "/agent/message/stream", message(session_id, "hello"))
    [error] = [e for e in events if e["type"] == "error"]
    assert error["code"] == "LLM_ERROR" and "HTTP 500" in error["error"] and "upstream exploded" in error["error"]
    assert unsequenced(events[-1]) == {"type": "done", "status": "failed", "task_id": error["task_id"]}
