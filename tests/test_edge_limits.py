"""Rate limits that hold at the edge: health, the API document and reflection
answer whatever the caller's budget; every credential of one user shares one
budget; a client address counts only when Envoy forwarded it."""

from __future__ import annotations

import grpc
import httpx
import pytest
import pytest_asyncio
import websockets
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from agentruntime.v1 import session_pb2, session_pb2_grpc
from ports import free_port
from conftest import make_settings, running
from identity_helpers import PASSWORD, bearer, unique_email

AUTHENTICATED, UNAUTHENTICATED = 5, 3
# Longer than the module runs: no window ends while a test counts on it.
WINDOW = 600.0


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory):
    settings = make_settings(
        tmp_path_factory.mktemp("edge-limits"),
        # A known bridge port: one test calls the bridge directly.
        server={"bridge_port": free_port()},
        rate_limits={"authenticated": AUTHENTICATED, "unauthenticated": UNAUTHENTICATED, "window_seconds": WINDOW},
    )
    async with running(settings) as started:
        yield started


def client_from(runtime, address: str) -> httpx.AsyncClient:
    """An HTTP client of Envoy whose connections come from `address` (any
    127.x address reaches a loopback listener), so that each test can have
    a per-IP budget of its own."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=runtime.http_url, transport=transport, timeout=30)


async def spend_ip_budget(http: httpx.AsyncClient) -> None:
    """Bad logins until the caller's address is refused."""
    for _ in range(UNAUTHENTICATED + 1):
        response = await http.post("/api/auth/login", json={"email": "x@example.com", "password": "guess"})
    assert response.status_code == 429, response.text


@pytest_asyncio.fixture(scope="module")
async def loopback_spent(runtime):
    """127.0.0.1, the address of direct gRPC calls, out of budget."""
    async with client_from(runtime, "127.0.0.1") as http:
        await spend_ip_budget(http)


async def test_health_docs_and_reflection_answer_when_the_budget_is_spent(runtime, loopback_spent):
    async with client_from(runtime, "127.0.0.1") as http:
        for path in ("/health", "/openapi.json", "/docs"):
            for _ in range(2):
                response = await http.get(path)
                assert response.status_code == 200, (path, response.text)
        # They report the budget, and have not replenished it.
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert (await http.get("/sessions", headers={"x-api-key": "guess"})).status_code == 429
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        check = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert check.status == health_pb2.HealthCheckResponse.SERVING
        answers = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = [service.name async for answer in answers for service in answer.list_services_response.service]
        assert "agentruntime.v1.SessionService" in names


async def test_every_credential_of_a_user_shares_one_budget(runtime):
    user = await runtime.identity.register(unique_email("edge"), PASSWORD)
    token = (await runtime.identity.login(user.email, PASSWORD)).token
    keys = [(await runtime.identity.create_api_key(name, None, user.user_id)).key for name in ("first", "second")]
    async with client_from(runtime, "127.0.0.3") as http:
        remaining = []
        for headers in ({"x-api-key": keys[0]}, {"x-api-key": keys[1]}, bearer(token), bearer(keys[1])):
            response = await http.get("/api/auth/me", headers=headers)
            assert response.status_code == 200, response.text
            remaining.append(int(response.headers["x-ratelimit-remaining"]))
        assert remaining == list(range(AUTHENTICATED - 1, AUTHENTICATED - 5, -1))
        await http.get("/api/auth/me", headers={"x-api-key": keys[0]})
        fresh_key = (await runtime.identity.create_api_key("third", None, user.user_id)).key
        refused = await http.get("/api/auth/me", headers={"x-api-key": fresh_key})
        assert refused.status_code == 429 and refused.json()["code"] == "RATE_LIMITED"


async def test_envoy_forwards_the_client_address(runtime, loopback_spent):
    # 127.0.0.1 is out of budget; a client on 127.0.0.2 has its own.
    async with client_from(runtime, "127.0.0.2") as http:
        response = await http.get("/sessions")
    assert response.status_code == 401
    assert response.headers["x-ratelimit-remaining"] == str(UNAUTHENTICATED - 1)


async def test_only_the_server_user_reads_the_gateway_secret(runtime):
    config = runtime.settings.data_dir / "envoy" / "envoy.yaml"
    assert "x-gateway-secret" in config.read_text()
    assert config.stat().st_mode & 0o777 == 0o600


async def test_a_forged_client_address_counts_under_the_real_peer(runtime, loopback_spent):
    forged = (("x-client-address", "203.0.113.9"), ("x-gateway-secret", "guess"))
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        for metadata in (forged[:1], forged):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ListSessions(session_pb2.ListSessionsRequest(), metadata=metadata)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # Nor through the WebSocket bridge's own port, bypassing Envoy.
    bridge = f"ws://127.0.0.1:{runtime.settings.server.bridge_port}/ws"
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await websockets.connect(bridge, additional_headers=dict(forged))
    assert refused.value.response.status_code == 429
