"""What REST clients see of the gateway itself: no gRPC headers on answers
(native gRPC through the same port keeps them), each document's status for
an invalid body, and mini-devin's task JSON as its document shows it."""

from __future__ import annotations

import grpc
import pytest

from agentruntime.v1 import session_pb2, session_pb2_grpc

from agent_helpers import new_session, wait_for
from conftest import grpc_metadata

GRPC_HEADERS = ("grpc-status", "grpc-message", "grpc-accept-encoding", "grpc-encoding")


async def test_rest_answers_carry_no_grpc_headers(http):
    created = await http.post("/sessions", json={"session_id": "headers-1"})
    listed = await http.get("/sessions")
    missing = await http.get("/sessions/no-such-session")
    for response in (created, listed, missing):
        assert not [name for name in GRPC_HEADERS if name in response.headers], (response.request.url, response.headers)
    assert created.status_code == 200 and listed.status_code == 200
    # Errors keep their status and body.
    assert missing.status_code == 404 and missing.json()["code"] == "SESSION_NOT_FOUND"


async def test_native_grpc_through_envoy_keeps_its_status(runtime):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{runtime.settings.server.http_port}") as through_envoy:
        sessions = session_pb2_grpc.SessionServiceStub(through_envoy)
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await sessions.GetSession(session_pb2.GetSessionRequest(session_id="no-such-session"), metadata=grpc_metadata())
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        created = await sessions.CreateSession(session_pb2.CreateSessionRequest(session_id="through-envoy"), metadata=grpc_metadata())
        assert created.session.session_id == "through-envoy"


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/sessions", b'{"name": 12345}'),
        ("/api/sessions", b"{not json"),
        ("/api/auth/register", b'{"email": ["a"], "password": "x"}'),
    ],
)
async def test_mini_devin_invalid_body_is_422_validation_error(http, path, body):
    response = await http.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "VALIDATION_ERROR" and response.json()["detail"]


async def test_other_documents_keep_400_for_a_wrong_type(http):
    response = await http.post("/sessions", json={"session_id": 5})
    assert response.status_code == 400 and response.json()["code"] == "BAD_REQUEST"
    response = await http.post("/api/tasks/", json={"description": 5})
    assert response.status_code == 400 and response.json()["code"] == "BAD_REQUEST"


async def test_a_task_without_plan_shows_an_empty_plan(http, project):
    session_id = await new_session(http, project)
    created = await http.post(f"/api/sessions/{session_id}/tasks", json={"description": "Nothing to plan"})
    assert created.status_code == 200, created.text
    task_id = created.json()["id"]
    # No model provider is configured here: the task fails before any plan.
    task = await wait_for(lambda: _task(http, task_id), lambda task: task["status"] == "failed")
    assert task["plan"] == {"steps": []}


async def _task(http, task_id):
    return (await http.get(f"/api/tasks/{task_id}")).json()
