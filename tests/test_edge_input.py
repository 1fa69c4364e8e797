"""Input the edge refuses: clients too slow to send their headers and idle
connections are cut off by Envoy (streams go on); JSON routes take JSON only
(415 otherwise, so a web page cannot post to them cross-site without a CORS
preflight), uploads any type; a request that is not a valid protobuf message
is INVALID_ARGUMENT with our ErrorInfo."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest
import pytest_asyncio
import websockets
from google.rpc import error_details_pb2, status_pb2

from conftest import TEST_API_KEY, grpc_metadata, http_client, make_settings, running

HEADERS_TIMEOUT, IDLE_TIMEOUT = 1.0, 2.0
# How long a test waits for Envoy to act before calling it a failure (not a
# measurement: far above the timeouts, for loaded machines).
PATIENCE = 30.0


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory):
    settings = make_settings(
        tmp_path_factory.mktemp("edge-input"),
        server={"http_request_headers_timeout_seconds": HEADERS_TIMEOUT, "http_idle_timeout_seconds": IDLE_TIMEOUT},
    )
    async with running(settings) as started:
        yield started


async def closed_by_envoy(runtime, first_bytes: bytes) -> bytes:
    """Opens a raw connection to Envoy, sends `first_bytes` (a partial
    request, or nothing) and returns what Envoy sent until it closed it."""
    host, port = runtime.http_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(first_bytes)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), PATIENCE)
    finally:
        writer.close()


async def test_slow_header_clients_are_cut_off(runtime):
    partial = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
    answers = await asyncio.gather(*(closed_by_envoy(runtime, partial) for _ in range(20)))
    # Each connection ended (read() returned at EOF), with a 408 at most.
    assert all(answer == b"" or answer.startswith(b"HTTP/1.1 408") for answer in answers), answers[:2]


async def test_idle_connections_are_closed(runtime):
    assert await closed_by_envoy(runtime, b"") == b""


async def test_streams_outlive_the_idle_timeout(runtime):
    url = runtime.http_url.replace("http://", "ws://") + "/ws"
    async with websockets.connect(url, additional_headers={"x-api-key": TEST_API_KEY}, ping_interval=None) as socket:
        loop = asyncio.get_running_loop()
        opened = loop.time()
        heartbeats = 0
        # Envoy would close an idle connection after IDLE_TIMEOUT; this one
        # carries a stream, which only heartbeats keep busy.
        while loop.time() - opened < 2 * IDLE_TIMEOUT:
            message = json.loads(await asyncio.wait_for(socket.recv(), PATIENCE))
            heartbeats += message["type"] == "heartbeat"
        assert heartbeats >= 2


def assert_unsupported_media_type(response) -> None:
    assert response.status_code == 415, response.text
    body = response.json()
    assert set(body) == {"detail", "code", "timestamp"} and body["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "application/json" in body["detail"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
async def test_json_routes_refuse_other_content_types(runtime, content_type):
    body = json.dumps({"session_id": "cross-site", "session_name": "x"})
    async with http_client(runtime) as http:
        assert_unsupported_media_type(await http.post("/sessions", content=body, headers={"content-type": content_type}))
        assert_unsupported_media_type(
            await http.post("/tasks/none/cancel", content=b"", headers={"content-type": content_type})
        )
        assert (await http.get("/sessions/cross-site")).status_code == 404


async def test_json_bodyless_and_upload_requests_pass(runtime):
    async with http_client(runtime) as http:
        for content_type in ("application/json", "Application/JSON; charset=utf-8"):
            body = json.dumps({"session_id": f"json-{len(content_type)}", "session_name": "x"})
            created = await http.post("/sessions", content=body, headers={"content-type": content_type})
            assert created.status_code == 200, created.text
        # No body, no content type: the server answers (an unknown task).
        missing = await http.post("/tasks/none/cancel")
        assert missing.status_code == 404 and missing.json()["code"] != "UNSUPPORTED_MEDIA_TYPE"
        upload = await http.post(
            "/ml-api/files/?filename=train.jsonl",
            content=b'{"text": "hello"}\n',
            headers={"content-type": "text/plain"},
        )
        assert upload.status_code == 200, upload.text


async def test_allowed_origins_see_the_415(runtime):
    origin = "http://localhost:5173"
    async with http_client(runtime) as http:
        response = await http.post("/sessions", content=b"{}", headers={"content-type": "text/plain", "origin": origin})
    assert_unsupported_media_type(response)
    assert response.headers.get("access-control-allow-origin") == origin


def error_info(failure: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status = status_pb2.Status.FromString(dict(failure.trailing_metadata())["grpc-status-details-bin"])
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    return info


@pytest.mark.parametrize("payload", [b"\xff\xff\xff\xff", b"\x0a\x02\xff\xfe"], ids=["corrupt", "bad-utf8"])
async def test_a_malformed_protobuf_is_invalid_argument(runtime, payload):
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        get_session = channel.unary_unary("/agentruntime.v1.SessionService/GetSession")
        with pytest.raises(grpc.aio.AioRpcError) as unary:
            await get_session(payload, metadata=grpc_metadata())
        append = channel.stream_stream("/agentruntime.v1.SessionService/AppendEvents")
        with pytest.raises(grpc.aio.AioRpcError) as streamed:
            async for _ in append(iter([payload]), metadata=grpc_metadata(), timeout=PATIENCE):
                pass
        # Credentials are checked first.
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await get_session(payload)
    for failure in (unary.value, streamed.value):
        assert failure.code() == grpc.StatusCode.INVALID_ARGUMENT, failure
        assert error_info(failure).reason == "BAD_REQUEST"
        assert "does not match the fields" in failure.details()
        assert "DecodeError" not in failure.details() and "<class" not in failure.details()
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_json_the_transcoder_cannot_encode_is_a_bad_request(runtime):
    # An object as a map<string,string> value: the transcoder encodes a
    # message the server cannot parse.
    async with http_client(runtime) as http:
        response = await http.post("/api/tasks", json={"prompt": "x", "context": {"project": {"nested": 1}}})
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"detail", "code", "timestamp"} and body["code"] == "BAD_REQUEST"
    assert "check the field types" in body["detail"] and "DecodeError" not in body["detail"]
