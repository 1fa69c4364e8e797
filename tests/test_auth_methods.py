"""The call interceptor's table, on the bare gRPC server (no Envoy): without
credentials every method but the open ones is UNAUTHENTICATED, and each
kind of credential gets through (anything but UNAUTHENTICATED and
PERMISSION_DENIED; INTERNAL or UNKNOWN would be a bug for any input). Each
method is called with an empty request and with the request each of its
REST routes makes of `{}`; test_auth_routes.py shows that Envoy routes
every REST path to its RPC and forwards every kind of credential."""

from __future__ import annotations

import asyncio

import grpc
import pytest
import pytest_asyncio

from agent_runtime.interceptors.auth import OPEN_METHODS
from conftest import TEST_API_KEY, running_without_envoy
from identity_helpers import bearer, credential_kinds, grpc_issue_key, grpc_new_user, identity_settings
from route_table import ADMINISTRATOR_ONLY, METHODS, ROUTES, Method, refused_as_user

# A stream that opened and sent nothing yet has passed the auth check.
STREAM_WAIT = 3.0
REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
BUGS = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)


def test_the_walk_sees_the_routes_and_methods():
    # Guards the walk itself: a broken descriptor reading would test nothing.
    paths = {(r.verb, r.path) for r in ROUTES}
    assert {("GET", "/sessions"), ("GET", "/api/users"), ("POST", "/api/auth/login"), ("GET", "/health")} <= paths
    assert any(r.rpc not in OPEN_METHODS for r in ROUTES)
    assert ("session_id",) in {r.variables for r in ROUTES}
    assert any(not m.routes for m in METHODS) and any(m.client_streaming for m in METHODS)
    assert ADMINISTRATOR_ONLY <= {m.rpc for m in METHODS}


@pytest_asyncio.fixture(scope="module")
async def channel(tmp_path_factory):
    async with running_without_envoy(identity_settings(tmp_path_factory.mktemp("methods"))) as (_, opened):
        yield opened


@pytest_asyncio.fixture(scope="module")
async def credentials(channel) -> dict[str, tuple[tuple[str, str], ...]]:
    """One set of metadata per kind of credential."""
    _, token = await grpc_new_user(channel, "walker")
    user_key = (await grpc_issue_key(channel, bearer(token))).key
    admin_key = (await grpc_issue_key(channel, {"x-api-key": TEST_API_KEY}, "admin issued")).key
    return {kind: tuple(headers.items()) for kind, headers in credential_kinds(token, user_key, admin_key).items()}


def _call(channel: grpc.aio.Channel, method: Method, request: bytes, metadata):
    identity = dict(request_serializer=lambda raw: raw, response_deserializer=lambda raw: raw)
    if method.client_streaming and method.server_streaming:
        return channel.stream_stream(method.rpc, **identity)(iter([request]), metadata=metadata)
    if method.client_streaming:
        return channel.stream_unary(method.rpc, **identity)(iter([request]), metadata=metadata)
    if method.server_streaming:
        return channel.unary_stream(method.rpc, **identity)(request, metadata=metadata)
    return channel.unary_unary(method.rpc, **identity)(request, metadata=metadata)


async def _grpc_code(channel, method: Method, request: bytes, metadata) -> grpc.StatusCode | None:
    """The call's status, or None for a stream that opened and is waiting."""
    call = _call(channel, method, request, metadata)
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
async def test_grpc_method_needs_credentials(channel, credentials, method):
    for request in method.requests():
        code = await _grpc_code(channel, method, request, ())
        if method.rpc in OPEN_METHODS:
            assert code != grpc.StatusCode.UNAUTHENTICATED
        else:
            assert code == grpc.StatusCode.UNAUTHENTICATED, f"{method.rpc}: {code}"
        for kind, metadata in credentials.items():
            code = await _grpc_code(channel, method, request, metadata)
            if refused_as_user(method.rpc, kind):
                assert code == grpc.StatusCode.PERMISSION_DENIED, f"{method.rpc} with {kind}: {code}"
                continue
            assert code not in REFUSED + BUGS, f"{method.rpc} {request!r} with {kind}: {code}"
