"""Rate limits per credential (else per client IP), the X-RateLimit-*
headers on every response, 429 RATE_LIMITED with Retry-After, across Envoy
and direct gRPC."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
import pytest_asyncio

from agentruntime.v1 import identity_pb2, identity_pb2_grpc, session_pb2, session_pb2_grpc
from agent_runtime.identity.ratelimit import MemoryRateWindows, RateLimiter
from conftest import http_client, make_settings, running
from identity_helpers import PASSWORD, bearer, unique_email

AUTHENTICATED, UNAUTHENTICATED, ADMIN, WINDOW = 5, 3, 8, 3.0


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory):
    settings = make_settings(
        tmp_path_factory.mktemp("limits"),
        rate_limits={"authenticated": AUTHENTICATED, "unauthenticated": UNAUTHENTICATED, "admin": ADMIN, "window_seconds": WINDOW},
    )
    async with running(settings) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def http(runtime):
    async with http_client(runtime, None) as client:
        yield client


async def user_token(runtime) -> str:
    """A fresh user (fresh bucket), made without spending requests."""
    user = await runtime.identity.register(unique_email("limits"), PASSWORD)
    return (await runtime.identity.login(user.email, PASSWORD)).token


def limits(response) -> tuple[int, int, int]:
    headers = response.headers
    return int(headers["x-ratelimit-limit"]), int(headers["x-ratelimit-remaining"]), int(headers["x-ratelimit-reset"])


async def test_headers_count_down_then_429_then_reset(runtime, http):
    headers = bearer(await user_token(runtime))
    seen = []
    for _ in range(AUTHENTICATED):
        response = await http.get("/api/auth/me", headers=headers)
        assert response.status_code == 200
        seen.append(limits(response))
    assert [remaining for _, remaining, _ in seen] == list(range(AUTHENTICATED - 1, -1, -1))
    assert {limit for limit, _, _ in seen} == {AUTHENTICATED}
    reset = seen[0][2]
    assert {r for _, _, r in seen} == {reset} and time.time() < reset <= time.time() + WINDOW + 1

    refused = await http.get("/api/auth/me", headers=headers)
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "RATE_LIMITED" and "retry" in body["detail"].lower()
    assert limits(refused) == (AUTHENTICATED, 0, reset)
    assert 1 <= int(refused.headers["retry-after"]) <= WINDOW + 1
    # Error responses of other kinds carry the headers too (also refused now).
    assert (await http.get("/sessions/none-such", headers=headers)).status_code == 429

    await asyncio.sleep(max(0.0, reset - time.time()) + 0.2)
    again = await http.get("/api/auth/me", headers=headers)
    assert again.status_code == 200
    assert limits(again)[:2] == (AUTHENTICATED, AUTHENTICATED - 1) and limits(again)[2] > reset


async def test_each_credential_has_its_own_budget(runtime, http):
    first, second = bearer(await user_token(runtime)), bearer(await user_token(runtime))
    for _ in range(AUTHENTICATED):
        await http.get("/api/auth/me", headers=first)
    assert (await http.get("/api/auth/me", headers=first)).status_code == 429
    response = await http.get("/api/auth/me", headers=second)
    assert response.status_code == 200 and limits(response)[1] == AUTHENTICATED - 1


async def test_limit_holds_across_envoy_and_direct_grpc(runtime, http):
    token = await user_token(runtime)
    metadata = (("authorization", f"Bearer {token}"),)
    for _ in range(3):
        assert (await http.get("/api/auth/me", headers=bearer(token))).status_code == 200
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        call = stub.GetCurrentUser(identity_pb2.GetCurrentUserRequest(), metadata=metadata)
        await call
        initial = dict(await call.initial_metadata())
        assert initial["x-ratelimit-remaining"] == "1" and initial["x-ratelimit-limit"] == str(AUTHENTICATED)
        await stub.GetCurrentUser(identity_pb2.GetCurrentUserRequest(), metadata=metadata)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetCurrentUser(identity_pb2.GetCurrentUserRequest(), metadata=metadata)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        trailers = dict(refused.value.trailing_metadata())
        assert trailers["x-ratelimit-remaining"] == "0" and int(trailers["retry-after"]) >= 1
    assert (await http.get("/api/auth/me", headers=bearer(token))).status_code == 429


async def test_callers_without_credentials_are_limited_per_ip(runtime, http):
    # Health is not counted, but reports the budget.
    for _ in range(UNAUTHENTICATED + 2):
        health = await http.get("/health")
        assert health.status_code == 200
    assert limits(health)[:2] == (UNAUTHENTICATED, UNAUTHENTICATED)
    # Nor are the console's files: one page load fetches ten of them.
    for path in ("/console", "/console/app.js", "/console/api.js", "/console/console.css"):
        assert (await http.get(path)).status_code == 200
    statuses, remaining = [], []
    for headers in ({}, {"x-api-key": "wrong"}, {"authorization": "Bearer wrong"}):
        response = await http.get("/sessions", headers=headers)
        statuses.append(response.status_code)
        remaining.append(limits(response)[1])
    assert statuses == [401, 401, 401] and remaining == [2, 1, 0]
    # Guessing keys or passwords is cut off, open methods included.
    assert (await http.get("/sessions", headers={"x-api-key": "guess"})).status_code == 429
    login = await http.post("/api/auth/login", json={"email": "a@example.com", "password": "guessing"})
    assert login.status_code == 429 and login.json()["code"] == "RATE_LIMITED" and "retry-after" in login.headers
    # Direct gRPC from the same address shares the budget.
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await session_pb2_grpc.SessionServiceStub(channel).ListSessions(session_pb2.ListSessionsRequest())
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # A credential has its own budget.
    response = await http.get("/api/auth/me", headers=bearer(await user_token(runtime)))
    assert response.status_code == 200


async def test_administrator_credentials_have_their_own_limit(runtime, http):
    response = await http.get("/sessions", headers={"x-api-key": "test-api-key"})
    assert response.status_code == 200 and limits(response)[0] == ADMIN


async def test_limiter_windows_with_a_fake_clock():
    now = [1000.0]
    limiter = RateLimiter(MemoryRateWindows(clock=lambda: now[0]), 60)
    decisions = [await limiter.hit("a", 3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].reset_at == 1060 and decisions[-1].retry_after == 60
    assert dict(decisions[-1].headers())["retry-after"] == "60"
    assert "retry-after" not in dict(decisions[0].headers())
    now[0] = 1030.5
    assert (await limiter.hit("a", 3)).retry_after == 30
    assert (await limiter.hit("b", 3)).allowed
    assert (await limiter.hit("a", 3, count=False)).remaining == 0
    now[0] = 1060.0
    fresh = await limiter.hit("a", 3)
    assert fresh.allowed and fresh.remaining == 2 and fresh.reset_at == 1120
    assert await limiter.hit("a", 0) is None


async def test_websocket_handshake_and_cors_expose_the_headers(runtime, http):
    import websockets

    token = await user_token(runtime)
    url = runtime.http_url.replace("http://", "ws://") + f"/ws?token={token}"
    async with websockets.connect(url) as socket:
        assert socket.response.headers["x-ratelimit-limit"] == str(AUTHENTICATED)
        assert socket.response.headers["x-ratelimit-remaining"] == str(AUTHENTICATED - 1)
    response = await http.get("/api/auth/me", headers={**bearer(token), "origin": "http://localhost:5173"})
    exposed = response.headers["access-control-expose-headers"].lower()
    assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after"} <= {
        h.strip() for h in exposed.split(",")
    }
