"""Helpers for tests that need users: register, log in, issue keys (all
through the real REST surface)."""

from __future__ import annotations

import uuid

import httpx

from conftest import make_settings

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
