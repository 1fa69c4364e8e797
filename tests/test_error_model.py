"""The error model's edges: an unexpected failure is 500 INTERNAL_ERROR with
the documented body and no trace, and error bodies keep their shape even when
a handler had already sent response headers (the Lua filter's fallback)."""

from __future__ import annotations

import grpc
import pytest
import pytest_asyncio
from google.rpc import error_details_pb2, status_pb2

from agentruntime.v1 import session_pb2, session_pb2_grpc
from agent_runtime.sessions.service import SessionService
from agent_runtime.sessions.servicer import SessionServicer
from conftest import http_client, make_settings, running, grpc_metadata

BROKEN_SESSION = "explodes"


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    original_get = SessionService.get_session

    async def get_session(self, session_id, **kwargs):
        if session_id == BROKEN_SESSION:
            raise RuntimeError("disk on fire at /secret/path")
        return await original_get(self, session_id, **kwargs)

    original_get_rpc = SessionServicer.GetSession

    async def headers_first(self, request, context):
        # A handler that sends its response headers before failing.
        await context.send_initial_metadata((("x-early", "1"),))
        return await original_get_rpc(self, request, context)

    patch.setattr(SessionService, "get_session", get_session)
    patch.setattr(SessionServicer, "GetSession", headers_first)
    try:
        async with running(make_settings(tmp_path_factory.mktemp("errors"))) as started:
            yield started
    finally:
        patch.undo()


async def test_unexpected_failure_is_500_internal_error_without_details(runtime):
    async with http_client(runtime) as http:
        response = await http.get(f"/sessions/{BROKEN_SESSION}")
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"detail", "code", "timestamp"} and body["code"] == "INTERNAL_ERROR"
    assert "fire" not in response.text and "Traceback" not in response.text
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await session_pb2_grpc.SessionServiceStub(channel).GetSession(
                session_pb2.GetSessionRequest(session_id=BROKEN_SESSION), metadata=grpc_metadata()
            )
    assert failure.value.code() == grpc.StatusCode.INTERNAL
    status = status_pb2.Status.FromString(dict(failure.value.trailing_metadata())["grpc-status-details-bin"])
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert info.reason == "INTERNAL_ERROR" and "fire" not in failure.value.details()


async def test_error_body_survives_headers_sent_before_the_error(runtime):
    async with http_client(runtime) as http:
        missing = await http.get("/sessions/not-there")
        invalid = await http.post("/api/auth/register", json={"email": "nope", "password": "x"}, headers={"x-api-key": ""})
    assert missing.status_code == 404 and missing.headers["x-early"] == "1"
    assert set(missing.json()) == {"detail", "code", "timestamp"}
    assert missing.json()["code"] == "SESSION_NOT_FOUND" and missing.json()["detail"] == "Session not-there not found"
    assert invalid.status_code == 422 and invalid.json()["code"] == "VALIDATION_ERROR"
