"""Every route of every service, read from the descriptor set (so routes
added later are covered without touching this file): without credentials a
non-open route answers 401 UNAUTHORIZED, and each kind of credential gets
through (anything but 401/403; 500 would be a bug for any input)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re

import grpc
import pytest
import pytest_asyncio
import websockets
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from agent_runtime.gateway.envoy import DESCRIPTOR_SET, PROTO_PACKAGE
from agent_runtime.interceptors.auth import OPEN_METHODS
from conftest import TEST_API_KEY, http_client, running
from identity_helpers import TEST_INTERNAL_TOKEN, bearer, identity_settings, issue_key, new_user

# Answers that say the request got past authentication and authorization.
DENIED = {401, 403}
DUMMY = "dummy-id-0"
# A stream that opened and sent nothing yet has passed the auth check.
STREAM_WAIT = 3.0
# Methods for administrators only: users get 403 / PERMISSION_DENIED
# (test_ml_ownership.py shows the answer).
ADMINISTRATOR_ONLY = {"/agentruntime.v1.MLService/RegisterModel"}
USER_CREDENTIALS = {"user JWT", "user md_ key", "user md_ key as Bearer"}


def refused_as_user(rpc: str, kind: str) -> bool:
    return rpc in ADMINISTRATOR_ONLY and kind in USER_CREDENTIALS


@dataclasses.dataclass(frozen=True)
class Route:
    rpc: str
    verb: str
    path: str
    has_body: bool
    server_streaming: bool

    def __str__(self) -> str:
        return f"{self.verb} {self.path} ({self.rpc})"


@dataclasses.dataclass(frozen=True)
class Method:
    rpc: str
    client_streaming: bool
    server_streaming: bool


def _methods() -> list[tuple[descriptor_pb2.MethodDescriptorProto, str]]:
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes()).file
    return [
        (method, f"/{f.package}.{service.name}/{method.name}")
        for f in files
        if f.package == PROTO_PACKAGE
        for service in f.service
        for method in service.method
    ]


def _bindings(rule: http_pb2.HttpRule):
    yield rule
    for extra in rule.additional_bindings:
        yield from _bindings(extra)


def http_routes() -> list[Route]:
    routes = []
    for method, rpc in _methods():
        if not method.options.HasExtension(annotations_pb2.http):
            continue
        for rule in _bindings(method.options.Extensions[annotations_pb2.http]):
            pattern = rule.WhichOneof("pattern")
            if pattern == "custom":
                verb, template = rule.custom.kind.upper(), rule.custom.path
            else:
                verb, template = pattern.upper(), getattr(rule, pattern)
            path = re.sub(r"\{[^}]*\}", DUMMY, template)
            routes.append(Route(rpc, verb, path, bool(rule.body), method.server_streaming))
    return routes


def grpc_methods() -> list[Method]:
    return [Method(rpc, m.client_streaming, m.server_streaming) for m, rpc in _methods()]


ROUTES = http_routes()
METHODS = grpc_methods()


def test_the_walk_sees_the_routes():
    # Guards the walk itself: a broken descriptor reading would test nothing.
    paths = {(r.verb, r.path) for r in ROUTES}
    assert {("GET", "/sessions"), ("GET", "/api/users"), ("POST", "/api/auth/login"), ("GET", "/health")} <= paths
    assert any(r.rpc not in OPEN_METHODS for r in ROUTES)


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory):
    settings = identity_settings(tmp_path_factory.mktemp("routes"))
    async with running(settings) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def credentials(runtime) -> dict[str, dict[str, str]]:
    """One set of headers per kind of credential."""
    async with http_client(runtime, None) as http:
        _, token = await new_user(http, "walker")
        user_key = (await issue_key(http, bearer(token)))["key"]
        admin_key = (await issue_key(http, {"x-api-key": TEST_API_KEY}, "admin issued"))["key"]
    return {
        "configured X-API-Key": {"x-api-key": TEST_API_KEY},
        "x-internal-auth": {"x-internal-auth": TEST_INTERNAL_TOKEN},
        "user JWT": bearer(token),
        "user md_ key": {"x-api-key": user_key},
        "user md_ key as Bearer": bearer(user_key),
        "admin md_ key": {"x-api-key": admin_key},
    }


async def _status(http, route: Route, headers: dict[str, str]) -> int | None:
    """The HTTP status, or None for a stream that opened and is waiting."""
    body = b"{}" if route.has_body else None
    request_headers = {"content-type": "application/json", **headers}

    async def send() -> int:
        async with http.stream(route.verb, route.path, content=body, headers=request_headers) as response:
            return response.status_code

    try:
        return await asyncio.wait_for(send(), STREAM_WAIT if route.server_streaming else 10)
    except asyncio.TimeoutError:
        if route.server_streaming:
            return None
        raise


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_route_without_credentials(runtime, route):
    async with http_client(runtime, None) as http:
        status = await _status(http, route, {})
        if route.rpc in OPEN_METHODS:
            assert status not in DENIED, f"{route} is open but answered {status}"
        else:
            assert status == 401, f"{route} answered {status} without credentials"
            response = await http.request(route.verb, route.path, content=b"{}" if route.has_body else None)
            body = response.json()
            assert body["code"] == "UNAUTHORIZED" and body["detail"], body


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_route_with_each_credential(runtime, credentials, route):
    async with http_client(runtime, None) as http:
        for kind, headers in credentials.items():
            status = await _status(http, route, headers)
            if refused_as_user(route.rpc, kind):
                assert status == 403, f"{route} is for administrators but answered {kind}: {status}"
                continue
            assert status not in DENIED, f"{route} refused {kind}: {status}"
            assert status != 500, f"{route} failed with {kind}: 500"


def _call(channel: grpc.aio.Channel, method: Method, metadata):
    identity = dict(request_serializer=lambda raw: raw, response_deserializer=lambda raw: raw)
    if method.client_streaming and method.server_streaming:
        return channel.stream_stream(method.rpc, **identity)(iter([b""]), metadata=metadata)
    if method.client_streaming:
        return channel.stream_unary(method.rpc, **identity)(iter([b""]), metadata=metadata)
    if method.server_streaming:
        return channel.unary_stream(method.rpc, **identity)(b"", metadata=metadata)
    return channel.unary_unary(method.rpc, **identity)(b"", metadata=metadata)


async def _grpc_code(channel, method: Method, metadata) -> grpc.StatusCode | None:
    call = _call(channel, method, metadata)
    try:
        if method.server_streaming:
            await asyncio.wait_for(call.read(), STREAM_WAIT)
        else:
            await asyncio.wait_for(call, 10)
        return grpc.StatusCode.OK
    except asyncio.TimeoutError:
        return None
    except grpc.aio.AioRpcError as error:
        return error.code()
    finally:
        call.cancel()


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.rpc)
async def test_grpc_method_needs_credentials(runtime, credentials, method):
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        code = await _grpc_code(channel, method, ())
        if method.rpc in OPEN_METHODS:
            assert code != grpc.StatusCode.UNAUTHENTICATED
        else:
            assert code == grpc.StatusCode.UNAUTHENTICATED, f"{method.rpc}: {code}"
        for kind, headers in credentials.items():
            code = await _grpc_code(channel, method, tuple(headers.items()))
            if refused_as_user(method.rpc, kind):
                assert code == grpc.StatusCode.PERMISSION_DENIED, f"{method.rpc} with {kind}: {code}"
                continue
            assert code not in (
                grpc.StatusCode.UNAUTHENTICATED,
                grpc.StatusCode.PERMISSION_DENIED,
                grpc.StatusCode.INTERNAL,
                grpc.StatusCode.UNKNOWN,
            ), f"{method.rpc} with {kind}: {code}"


async def test_websocket_feed_needs_credentials_and_takes_each_kind(runtime, credentials):
    url = runtime.http_url.replace("http://", "ws://") + "/ws"
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await websockets.connect(url)
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body)["code"] == "UNAUTHORIZED"
    for kind, headers in credentials.items():
        async with websockets.connect(url, additional_headers=headers) as socket:
            assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connected", kind
    for kind in ("user JWT", "user md_ key as Bearer"):
        token = credentials[kind]["authorization"].removeprefix("Bearer ")
        async with websockets.connect(f"{url}?token={token}") as socket:
            assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connected", kind
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await websockets.connect(f"{url}?token=not-a-token")
    assert refused.value.response.status_code == 401
