"""Register, log in, API keys, users, and hostile credentials and bodies,
through Envoy (REST) and gRPC. Which keys and JWTs the interceptor takes
(others', revoked, expired, tampered, foreign) is test_credentials.py, on
the bare gRPC server."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import grpc
import pytest
import pytest_asyncio
from google.rpc import error_details_pb2, status_pb2

from agentruntime.v1 import identity_pb2, identity_pb2_grpc
from agent_runtime.identity.tokens import load_or_create_signing_key
from conftest import TEST_API_KEY, http_client, make_settings, running
from identity_helpers import PASSWORD, TEST_INTERNAL_TOKEN, bearer, identity_settings, issue_key, new_user, register, unique_email

ADMIN = {"x-api-key": TEST_API_KEY}


def is_iso(text: str) -> bool:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["detail"] and is_iso(body["timestamp"]), body
    return body


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory):
    settings = identity_settings(tmp_path_factory.mktemp("identity"))
    async with running(settings) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def http(runtime):
    async with http_client(runtime, None) as client:
        yield client


# Register and log in -------------------------------------------------------


async def test_register_returns_the_documented_user(http):
    email = unique_email("Reg").upper()
    user = await register(http, email, name="John Doe")
    assert set(user) >= {"id", "email", "name", "created_at"}
    assert user["email"] == email.lower() and user["name"] == "John Doe"
    assert len(user["id"]) == 36 and is_iso(user["created_at"])
    assert "password" not in json.dumps(user)


async def test_register_validation_is_422_with_each_field(http):
    response = await http.post("/api/auth/register", json={"email": "not-an-email", "password": "short", "name": "x" * 300})
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert set(body["errors"]) == {"email", "password", "name"}
    assert "8 characters" in body["errors"]["password"]
    assert_error(await http.post("/api/auth/register", json={}), 422, "VALIDATION_ERROR")


async def test_register_twice_is_409(http):
    email = unique_email()
    await register(http, email)
    assert_error(await http.post("/api/auth/register", json={"email": email.upper(), "password": PASSWORD}), 409, "ALREADY_EXISTS")


async def test_login_gives_a_bearer_jwt(http, runtime):
    user = await register(http)
    response = await http.post("/api/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == runtime.settings.auth.jwt_expires_seconds == 3600
    assert body["access_token"].count(".") == 2
    me = await http.get("/api/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json() == user


async def test_wrong_password_and_unknown_email_are_the_same_401(http):
    user = await register(http)
    wrong = assert_error(await http.post("/api/auth/login", json={"email": user["email"], "password": "wrong password"}), 401, "UNAUTHORIZED")
    unknown = assert_error(await http.post("/api/auth/login", json={"email": unique_email(), "password": PASSWORD}), 401, "UNAUTHORIZED")
    assert wrong["detail"] == unknown["detail"] == "Invalid email or password"
    assert_error(await http.post("/api/auth/login", json={"email": user["email"]}), 422, "VALIDATION_ERROR")


async def test_current_user_of_administrator_credentials(http):
    me = await http.get("/api/auth/me", headers=ADMIN)
    assert me.status_code == 200 and me.json()["id"] == "api_key:configured-key"
    service = await http.get("/api/auth/me", headers={"x-internal-auth": TEST_INTERNAL_TOKEN})
    assert service.json()["id"] == "service:internal"


# Users ----------------------------------------------------------------------


async def test_users_is_a_bare_array_all_for_admins_self_for_users(http):
    first, token = await new_user(http, "list")
    second = await register(http)
    everyone = await http.get("/api/users/", headers=ADMIN)
    assert everyone.status_code == 200 and everyone.headers["content-type"].startswith("application/json")
    listed = everyone.json()
    assert isinstance(listed, list)
    assert {first["id"], second["id"]} <= {u["id"] for u in listed}
    assert all({"id", "username", "email"} <= set(u) for u in listed)
    mine = (await http.get("/api/users", headers=bearer(token))).json()
    assert mine == [first]


async def test_grpc_list_users_matches_rest(runtime, http):
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        typed = await stub.ListUsers(identity_pb2.ListUsersRequest(), metadata=tuple(ADMIN.items()))
    rest = (await http.get("/api/users", headers=ADMIN)).json()
    assert [u.id for u in typed.users] == [u["id"] for u in rest]


# API keys ---------------------------------------------------------------------


async def test_api_key_is_shown_once_works_and_lists_without_secret(http):
    user, token = await new_user(http, "keys")
    expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)).replace(microsecond=0)
    created = await issue_key(http, bearer(token), "My API Key", expires_at=expires.isoformat().replace("+00:00", "Z"))
    assert created["key"].startswith("md_") and len(created["key"]) > 40
    assert created["name"] == "My API Key" and is_iso(created["created_at"])
    assert created["expires_at"] == expires.isoformat().replace("+00:00", "Z")
    for headers in ({"x-api-key": created["key"]}, bearer(created["key"])):
        me = await http.get("/api/auth/me", headers=headers)
        assert me.status_code == 200 and me.json()["id"] == user["id"]
    listed = (await http.get("/api/auth/api-keys", headers=bearer(token))).json()["api_keys"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert created["key"] not in json.dumps(listed)
    assert listed[0]["prefix"] == created["key"][:11] and listed[0]["user_id"] == user["id"]
    assert "last_used_at" in listed[0]


async def test_key_expiry_must_be_future_and_a_time(http):
    _, token = await new_user(http, "expiry")
    past = await http.post("/api/auth/api-keys", json={"name": "k", "expires_at": "2001-01-01T00:00:00Z"}, headers=bearer(token))
    assert assert_error(past, 422, "VALIDATION_ERROR")["errors"] == {"expires_at": "expires_at must lie in the future"}
    garbage = await http.post("/api/auth/api-keys", json={"name": "k", "expires_at": "tomorrow"}, headers=bearer(token))
    # Not a time: an invalid body, which mini-devin's document answers 422.
    assert garbage.status_code == 422 and garbage.json()["code"] == "VALIDATION_ERROR"
    nameless = await http.post("/api/auth/api-keys", json={}, headers=bearer(token))
    assert assert_error(nameless, 422, "VALIDATION_ERROR")["errors"] == {"name": "name is required"}


# Hostile input in every auth field -------------------------------------------------

HOSTILE = [
    "' OR '1'='1' --",
    "md_' OR 1=1; --",
    "admin'--",
    '"; DROP TABLE users; --',
    "md_" + "a" * 5000,
    "x" * 40000,
    "%00%27",
    "Bearer",
]


async def test_hostile_credentials_are_401_never_500(http):
    for value in HOSTILE:
        for headers in (
            {"x-api-key": value},
            {"x-internal-auth": value},
            {"authorization": value},
            {"authorization": f"Bearer {value}"},
        ):
            response = await http.get("/sessions", headers=headers)
            assert_error(response, 401, "UNAUTHORIZED")
    for raw in (b"\xff\xfe", "ключ".encode()):
        assert (await http.get("/sessions", headers={"x-api-key": raw})).status_code == 401


@pytest.mark.long
async def test_hostile_bodies_are_401_or_422_never_500(http, runtime):
    users_before = (await runtime.database.fetch_one("SELECT COUNT(*) FROM users"))[0]
    _, token = await new_user(http, "hostile")
    for value in HOSTILE + ["x" * 200_000]:
        login_response = await http.post("/api/auth/login", json={"email": value, "password": value})
        assert login_response.status_code in (401, 422), login_response.text
        for field in ("email", "password", "name", "username"):
            body = {"email": unique_email(), "password": PASSWORD, field: value}
            response = await http.post("/api/auth/register", json=body)
            assert response.status_code in (200, 409, 422), (field, value[:20], response.text)
        created = await http.post("/api/auth/api-keys", json={"name": value}, headers=bearer(token))
        assert created.status_code in (200, 422), created.text
        revoke = await http.delete(f"/api/auth/api-keys/{value[:2000]}", headers=bearer(token))
        assert revoke.status_code in (400, 404), revoke.text
    assert (await runtime.database.fetch_one("SELECT COUNT(*) FROM users"))[0] > users_before


async def test_grpc_errors_say_unauthenticated_with_error_info(runtime):
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await stub.GetCurrentUser(identity_pb2.GetCurrentUserRequest(), metadata=(("authorization", "Bearer nope"),))
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    status = status_pb2.Status.FromString(dict(failure.value.trailing_metadata())["grpc-status-details-bin"])
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert info.reason == "UNAUTHORIZED" and info.metadata["http_status"] == "401"


# Closed registration ------------------------------------------


async def test_closed_registration_is_401_anonymous_403_user_ok_admin(tmp_path):
    settings = make_settings(tmp_path, auth={"allow_registration": False})
    async with running(settings) as closed:
        async with grpc.aio.insecure_channel(closed.grpc_target) as channel:
            stub = identity_pb2_grpc.IdentityServiceStub(channel)
            request = identity_pb2.RegisterRequest(email=unique_email(), password=PASSWORD)
            with pytest.raises(grpc.aio.AioRpcError) as anonymous:
                await stub.Register(request)
            assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
            user = await stub.Register(request, metadata=tuple(ADMIN.items()))
            token = await stub.Login(identity_pb2.LoginRequest(email=user.email, password=PASSWORD))
            with pytest.raises(grpc.aio.AioRpcError) as forbidden:
                await stub.Register(
                    identity_pb2.RegisterRequest(email=unique_email(), password=PASSWORD),
                    metadata=(("authorization", f"Bearer {token.access_token}"),),
                )
            assert forbidden.value.code() == grpc.StatusCode.PERMISSION_DENIED
            status = status_pb2.Status.FromString(dict(forbidden.value.trailing_metadata())["grpc-status-details-bin"])
            info = error_details_pb2.ErrorInfo()
            status.details[0].Unpack(info)
            assert info.reason == "FORBIDDEN" and info.metadata["http_status"] == "403"
        async with http_client(closed, None) as http:
            body = {"email": unique_email(), "password": PASSWORD}
            assert_error(await http.post("/api/auth/register", json=body), 401, "UNAUTHORIZED")
            forbidden = await http.post("/api/auth/register", json=body, headers=bearer(token.access_token))
            assert "closed" in assert_error(forbidden, 403, "FORBIDDEN")["detail"]
            assert (await http.post("/api/auth/register", json=body, headers=ADMIN)).status_code == 200


# The signing key --------------------------------------------------------------------


def test_signing_key_is_generated_once_with_mode_0600(tmp_path):
    path = tmp_path / "jwt-signing-key"
    first = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) >= 32
    assert load_or_create_signing_key(path) == first
    os.chmod(path, 0o644)
    assert load_or_create_signing_key(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.slow
async def test_tokens_and_keys_survive_a_restart(tmp_path):
    settings = make_settings(tmp_path, server={"run_envoy": False})
    async with running(settings) as first:
        user = await first.identity.register(unique_email(), PASSWORD)
        token = (await first.identity.login(user.email, PASSWORD)).token
        key = (await first.identity.create_api_key("k", None, user.user_id)).key
    async with running(settings) as second:
        async with grpc.aio.insecure_channel(second.grpc_target) as channel:
            stub = identity_pb2_grpc.IdentityServiceStub(channel)
            for metadata in ((("authorization", f"Bearer {token}"),), (("x-api-key", key),)):
                me = await stub.GetCurrentUser(identity_pb2.GetCurrentUserRequest(), metadata=metadata)
                assert me.id == user.user_id


# Settings ---------------------------------------------------------------------------


def test_service_token_and_secrets_settings(tmp_path):
    from agent_runtime.config import DEV_INTERNAL_AUTH_TOKEN, Settings

    local = make_settings(tmp_path)
    assert local.accepted_service_tokens() == frozenset({DEV_INTERNAL_AUTH_TOKEN})
    assert make_settings(tmp_path, auth={"internal_auth_token": "t" * 20}).accepted_service_tokens() == frozenset({"t" * 20})
    public = make_settings(tmp_path, server={"grpc_host": "0.0.0.0", "http_host": "0.0.0.0"})
    assert public.accepted_service_tokens() == frozenset()
    for bad in (dict(auth={"jwt_secret": "short"}), dict(auth={"jwt_expires_seconds": 5}), dict(rate_limits={"authenticated": -1})):
        with pytest.raises(ValueError):
            make_settings(tmp_path, **bad).check()
    defaults = Settings()
    assert (defaults.rate_limits.authenticated, defaults.rate_limits.unauthenticated) == (100, 10)
    assert defaults.rate_limits.window_seconds == 60 and defaults.auth.jwt_expires_seconds == 3600


def test_settings_from_environment(monkeypatch):
    from agent_runtime.config import Settings

    monkeypatch.setenv("INTERNAL_AUTH_TOKEN", "from-env-token")
    monkeypatch.setenv("RATE_LIMIT_AUTHENTICATED", "7")
    monkeypatch.setenv("RATE_LIMIT_UNAUTHENTICATED", "2")
    monkeypatch.setenv("ALLOW_REGISTRATION", "false")
    settings = Settings.from_env()
    assert settings.auth.internal_auth_token == "from-env-token"
    assert (settings.rate_limits.authenticated, settings.rate_limits.unauthenticated) == (7, 2)
    assert settings.auth.allow_registration is False


async def test_users_cannot_pick_a_working_directory_without_project_roots(http, tmp_path):
    """Agent tools act inside the session's directory with the server's
    rights: without PROJECT_ROOTS only administrators choose it."""
    _, token = await new_user(http, "workdir")
    refused = await http.post("/api/sessions", json={"name": "x", "working_directory": str(tmp_path)}, headers=bearer(token))
    assert_error(refused, 403, "FORBIDDEN")
    assert "PROJECT_ROOTS" in refused.json()["detail"]
    allowed = await http.post(
        "/api/sessions", json={"name": "x", "working_directory": str(tmp_path)}, headers={"x-api-key": TEST_API_KEY}
    )
    assert allowed.status_code == 200, allowed.text
