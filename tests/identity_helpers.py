"""Helpers for tests that need users: register, log in, issue keys, through
the real REST surface or, for servers without Envoy, over gRPC."""

from __future__ import annotations

import uuid

import grpc
import httpx

from agentruntime.v1 import identity_pb2, identity_pb2_grpc
from conftest import TEST_API_KEY, make_settings

TEST_INTERNAL_TOKEN = "test-internal-token"
PASSWORD = "correct horse battery"


def identity_settings(data_dir, **overrides):
    """Settings with a service token and no rate limits (the rate-limit
    tests set their own), so suites can register many users."""
    values = dict(
        auth={"internal_auth_token": TEST_INTERNAL_TOKEN},
        rate_limits={"unauthenticated": 0, "authenticated": 0, "admin": 0},
    )
    return make_settings(data_dir, **{**values, **overrides})


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


async def register(http: httpx.AsyncClient, email: str | None = None, **fields) -> dict:
    body = {"email": email or unique_email(), "password": PASSWORD, "name": "Test User", **fields}
    response = await http.post("/api/auth/register", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def login(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await http.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def new_user(http: httpx.AsyncClient, tag: str = "user") -> tuple[dict, str]:
    """A registered user and their bearer token."""
    user = await register(http, unique_email(tag))
    return user, await login(http, user["email"])


async def issue_key(http: httpx.AsyncClient, headers: dict[str, str], name: str = "test key", **fields) -> dict:
    response = await http.post("/api/auth/api-keys", json={"name": name, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def credential_kinds(user_token: str, user_key: str, admin_key: str) -> dict[str, dict[str, str]]:
    """The headers of each kind of credential the interceptor takes, by name
    (route_table.USER_CREDENTIALS names the users' kinds)."""
    return {
        "configured X-API-Key": {"x-api-key": TEST_API_KEY},
        "x-internal-auth": {"x-internal-auth": TEST_INTERNAL_TOKEN},
        "user JWT": bearer(user_token),
        "user md_ key": {"x-api-key": user_key},
        "user md_ key as Bearer": bearer(user_key),
        "admin md_ key": {"x-api-key": admin_key},
    }


async def grpc_new_user(channel: grpc.aio.Channel, tag: str = "user") -> tuple[identity_pb2.User, str]:
    """`new_user` on the bare gRPC server: a registered user and their
    bearer token."""
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    email = unique_email(tag)
    user = await stub.Register(identity_pb2.RegisterRequest(email=email, password=PASSWORD, name="Test User"))
    logged_in = await stub.Login(identity_pb2.LoginRequest(email=email, password=PASSWORD))
    return user, logged_in.access_token


async def grpc_issue_key(channel: grpc.aio.Channel, headers: dict[str, str], name: str = "test key") -> identity_pb2.CreateApiKeyResponse:
    """`issue_key` on the bare gRPC server."""
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    return await stub.CreateApiKey(identity_pb2.CreateApiKeyRequest(name=name), metadata=tuple(headers.items()))
