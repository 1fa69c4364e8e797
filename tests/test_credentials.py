"""Which credentials the call interceptor takes, on the bare gRPC server
(no Envoy): API keys (another user's are invisible and not revocable, a
revoked or expired key is refused at once, an administrator's key is an
administrator's) and JWTs (tampered, expired, foreign or of an unknown
user: refused). Each refusal is UNAUTHENTICATED with reason UNAUTHORIZED;
the REST 401 body is test_identity.py's."""

from __future__ import annotations

import base64
import datetime as dt
import json

import grpc
import jwt
import pytest
import pytest_asyncio

from agentruntime.v1 import identity_pb2, identity_pb2_grpc
from agent_runtime.identity.tokens import TokenIssuer
from conftest import TEST_API_KEY, running_without_envoy
from grpc_errors import error_info, refusal
from identity_helpers import PASSWORD, bearer, grpc_issue_key, grpc_new_user, identity_settings, unique_email

ADMIN = {"x-api-key": TEST_API_KEY}


@pytest_asyncio.fixture(scope="module")
async def served(tmp_path_factory):
    """The runtime (its database and signing key) and a channel to it."""
    async with running_without_envoy(identity_settings(tmp_path_factory.mktemp("credentials"))) as pair:
        yield pair


@pytest.fixture
def channel(served):
    return served[1]


@pytest.fixture
def stub(channel):
    return identity_pb2_grpc.IdentityServiceStub(channel)


def signing_key(served) -> bytes:
    return served[0].settings.jwt_key_path.read_bytes()


async def current_user(stub, headers: dict[str, str]) -> identity_pb2.User:
    return await stub.GetCurrentUser(identity_pb2.GetCurrentUserRequest(), metadata=tuple(headers.items()))


async def refused(stub, headers: dict[str, str]) -> str:
    """GetCurrentUser must be refused as unauthenticated; the detail."""
    try:
        user = await current_user(stub, headers)
    except grpc.aio.AioRpcError as failure:
        assert (failure.code(), error_info(failure).reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHORIZED"), failure
        return failure.details()
    raise AssertionError(f"{headers} was taken as {user}")


async def register(stub) -> identity_pb2.User:
    return await stub.Register(identity_pb2.RegisterRequest(email=unique_email(), password=PASSWORD, name="Test User"))


async def test_keys_of_others_are_invisible_and_not_revocable(stub, channel):
    _, alice = await grpc_new_user(channel, "alice")
    _, bob = await grpc_new_user(channel, "bob")
    alice_key = await grpc_issue_key(channel, bearer(alice))
    bobs = await stub.ListApiKeys(identity_pb2.ListApiKeysRequest(), metadata=tuple(bearer(bob).items()))
    assert list(bobs.api_keys) == []
    revoke = stub.RevokeApiKey(identity_pb2.RevokeApiKeyRequest(key_id=alice_key.id), metadata=tuple(bearer(bob).items()))
    assert await refusal(revoke) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
    assert (await current_user(stub, {"x-api-key": alice_key.key})).id
    admin_view = await stub.ListApiKeys(identity_pb2.ListApiKeysRequest(), metadata=tuple(ADMIN.items()))
    assert alice_key.id in {k.id for k in admin_view.api_keys}


async def test_revoked_key_is_refused_at_once(stub, channel):
    _, token = await grpc_new_user(channel, "revoke")
    key = await grpc_issue_key(channel, bearer(token))
    revoke = identity_pb2.RevokeApiKeyRequest(key_id=key.id)
    revoked = await stub.RevokeApiKey(revoke, metadata=tuple(bearer(token).items()))
    assert revoked.HasField("revoked_at")
    assert "revoked" in await refused(stub, {"x-api-key": key.key})
    again = await stub.RevokeApiKey(revoke, metadata=tuple(bearer(token).items()))
    assert again.revoked_at == revoked.revoked_at


async def test_expired_key_is_refused(stub, channel, served):
    _, token = await grpc_new_user(channel, "expire")
    key = await grpc_issue_key(channel, bearer(token))
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    async with served[0].database.transaction() as tx:
        await tx.execute("UPDATE api_keys SET expires_at = ? WHERE key_id = ?", (past, key.id))
    assert "expired" in await refused(stub, {"x-api-key": key.key})


async def test_admin_issued_key_is_an_admin_key(stub, channel):
    key = await grpc_issue_key(channel, ADMIN, "ci")
    user, _ = await grpc_new_user(channel, "seen")
    users = await stub.ListUsers(identity_pb2.ListUsersRequest(), metadata=(("x-api-key", key.key),))
    assert user.id in {u.id for u in users.users}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def test_tampered_tokens_are_refused(stub, channel, served):
    victim = await register(stub)
    _, token = await grpc_new_user(channel, "tamper")
    header, payload, signature = token.split(".")
    claims = _claims(token)
    changed = _b64(json.dumps({**claims, "sub": victim.id}).encode())
    longer = _b64(json.dumps({**claims, "exp": claims["exp"] + 10**6}).encode())
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    forged = jwt.encode({**claims, "sub": victim.id}, "x" * 32, algorithm="HS256")
    hs512 = jwt.encode(claims, signing_key(served), algorithm="HS512")
    for bad in (
        f"{header}.{changed}.{signature}",  # changed payload, old signature
        f"{header}.{longer}.{signature}",
        f"{none_header}.{changed}.",  # alg: none
        f"{none_header}.{payload}.",
        forged,  # wrong key
        hs512,  # right key, an algorithm we do not take
        f"{header}.{payload}",
        f"{header}.{payload}.{signature}x",
        "a.b.c",
        token[:-4],
    ):
        await refused(stub, bearer(bad))
    assert (await current_user(stub, bearer(token))).id


async def test_expired_and_foreign_jwts_are_refused(stub, served):
    user = await register(stub)
    key = signing_key(served)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    expired = TokenIssuer(key, 3600, clock=lambda: past).issue(user.id)
    assert "expired" in await refused(stub, bearer(expired))
    now = dt.datetime.now(dt.timezone.utc)
    claims = {"sub": user.id, "iat": now, "exp": now + dt.timedelta(hours=1)}
    for bad in (
        jwt.encode(claims, key, algorithm="HS256"),  # no issuer, no typ
        jwt.encode({**claims, "iss": "someone-else", "typ": "access"}, key, algorithm="HS256"),
        jwt.encode({"iss": "agent-runtime", "typ": "access", "iat": now, "exp": now + dt.timedelta(hours=1)}, key, algorithm="HS256"),
        TokenIssuer(key, 3600).issue("no-such-user"),
    ):
        await refused(stub, bearer(bad))
