"""Envoy's part of authentication, for every REST route read from the
descriptor set (route_table.py, so routes added later are covered without
touching this file): each route reaches its RPC behind the interceptor, so
without credentials a non-open route answers 401 UNAUTHORIZED; and Envoy
forwards each kind of credential, shown on one route of each shape (the
interceptor's table itself, every method with every credential, is
test_auth_methods.py on the bare gRPC server)."""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_asyncio
import websockets

from agent_runtime.interceptors.auth import OPEN_METHODS
from conftest import TEST_API_KEY, http_client, running
from identity_helpers import bearer, credential_kinds, identity_settings, issue_key, new_user
from route_table import ADMINISTRATOR_ONLY, ROUTES, Route, refused_as_user

# Answers that say the request got past authentication and authorization.
DENIED = {401, 403}
# A stream that opened and sent nothing yet has passed the auth check.
STREAM_WAIT = 3.0


def _shape(route: Route) -> tuple:
    return (route.verb, route.has_body, route.server_streaming, bool(route.variables),
            route.rpc in OPEN_METHODS, route.rpc in ADMINISTRATOR_ONLY)


def _one_route_per_shape() -> list[Route]:
    sample: dict[tuple, Route] = {}
    for route in ROUTES:
        sample.setdefault(_shape(route), route)
    return list(sample.values())


SAMPLE = _one_route_per_shape()


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
    return credential_kinds(token, user_key, admin_key)


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
async def test_route_reaches_its_rpc(runtime, route):
    """Without credentials the interceptor of the route's RPC answers; with
    the configured key Envoy renders the RPC's answer (never a 500)."""
    async with http_client(runtime, None) as http:
        status = await _status(http, route, {})
        if route.rpc in OPEN_METHODS:
            assert status not in DENIED, f"{route} is open but answered {status}"
        else:
            assert status == 401, f"{route} answered {status} without credentials"
            response = await http.request(route.verb, route.path, content=b"{}" if route.has_body else None)
            body = response.json()
            assert body["code"] == "UNAUTHORIZED" and body["detail"], body
        status = await _status(http, route, {"x-api-key": TEST_API_KEY})
        assert status not in DENIED and status != 500, f"{route} with the configured key: {status}"


@pytest.mark.parametrize("route", SAMPLE, ids=str)
async def test_route_with_each_credential(runtime, credentials, route):
    async with http_client(runtime, None) as http:
        for kind, headers in credentials.items():
            status = await _status(http, route, headers)
            if refused_as_user(route.rpc, kind):
                assert status == 403, f"{route} is for administrators but answered {kind}: {status}"
                continue
            assert status not in DENIED, f"{route} refused {kind}: {status}"
            assert status != 500, f"{route} failed with {kind}: 500"


async def _connected(url: str, kind: str, headers: dict[str, str]) -> None:
    async with websockets.connect(url, additional_headers=headers) as socket:
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connected", kind


async def test_websocket_feed_needs_credentials_and_takes_each_kind(runtime, credentials):
    url = runtime.http_url.replace("http://", "ws://") + "/ws"
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await websockets.connect(url)
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body)["code"] == "UNAUTHORIZED"
    tokens = {kind: credentials[kind]["authorization"].removeprefix("Bearer ") for kind in ("user JWT", "user md_ key as Bearer")}
    # All at once: through the bridge each closing handshake takes a second.
    await asyncio.gather(
        *(_connected(url, kind, headers) for kind, headers in credentials.items()),
        *(_connected(f"{url}?token={token}", kind, {}) for kind, token in tokens.items()),
    )
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await websockets.connect(f"{url}?token=not-a-token")
    assert refused.value.response.status_code == 401
