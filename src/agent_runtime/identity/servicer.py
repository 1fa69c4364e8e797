"""gRPC IdentityService: converts messages and calls IdentityService."""

from __future__ import annotations

import datetime as dt

from google.api import httpbody_pb2

from agentruntime.v1 import identity_pb2 as pb
from agentruntime.v1 import identity_pb2_grpc
from agent_runtime.clock import timestamp_proto
from agent_runtime.errors import PermissionDenied, Unauthenticated, ValidationFailed
from agent_runtime.identity.models import ApiKeyRecord, UserRecord
from agent_runtime.identity.ownership import caller, new_owner, owner_scope
from agent_runtime.identity.service import IdentityService
from agent_runtime.jsonfmt import json_http_body, message_to_dict

# Latest expiry accepted for a key (year 9999 is the Timestamp maximum).
_MAX_EXPIRY = dt.datetime(9999, 1, 1, tzinfo=dt.timezone.utc)


def user_to_proto(user: UserRecord) -> pb.User:
    return pb.User(
        id=user.user_id,
        email=user.email,
        name=user.name,
        username=user.username,
        created_at=timestamp_proto(user.created_at),
    )


def api_key_to_proto(key: ApiKeyRecord) -> pb.ApiKey:
    return pb.ApiKey(
        id=key.key_id,
        name=key.name,
        prefix=key.prefix,
        user_id=key.user_id or "",
        created_at=timestamp_proto(key.created_at),
        expires_at=timestamp_proto(key.expires_at),
        revoked_at=timestamp_proto(key.revoked_at),
        last_used_at=timestamp_proto(key.last_used_at),
    )


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, identity: IdentityService, *, allow_registration: bool = True):
        self._identity = identity
        self._allow_registration = allow_registration

    async def Register(self, request: pb.RegisterRequest, context) -> pb.User:
        if not self._allow_registration:
            who = caller()
            if not who.authenticated:
                raise Unauthenticated("Registration is closed: an administrator creates accounts")
            if not who.admin:
                raise PermissionDenied("Registration is closed: only administrators create accounts")
        user = await self._identity.register(request.email, request.password, request.name, request.username)
        return user_to_proto(user)

    async def Login(self, request: pb.LoginRequest, context) -> pb.LoginResponse:
        token = await self._identity.login(request.email, request.password)
        return pb.LoginResponse(access_token=token.token, token_type="bearer", expires_in=token.expires_in)

    async def GetCurrentUser(self, request, context) -> pb.User:
        who = caller()
        if who.user_id is not None:
            return user_to_proto(await self._identity.get_user(who.user_id))
        # Administrator credentials are no user: describe the credential.
        return pb.User(id=f"{who.kind}:{who.subject}", name="Administrator", username=who.kind)

    async def CreateApiKey(self, request: pb.CreateApiKeyRequest, context) -> pb.CreateApiKeyResponse:
        expires_at = None
        if request.HasField("expires_at"):
            try:
                expires_at = request.expires_at.ToDatetime(tzinfo=dt.timezone.utc)
            except (ValueError, OverflowError):
                expires_at = None
            if expires_at is None or expires_at >= _MAX_EXPIRY:
                raise ValidationFailed(
                    "Invalid request: expires_at is not a valid time",
                    fields={"expires_at": "expires_at must be an RFC 3339 time before year 9999"},
                )
        issued = await self._identity.create_api_key(request.name, expires_at, new_owner())
        record = issued.record
        return pb.CreateApiKeyResponse(
            id=record.key_id,
            name=record.name,
            key=issued.key,
            created_at=timestamp_proto(record.created_at),
            expires_at=timestamp_proto(record.expires_at),
        )

    async def ListApiKeys(self, request, context) -> pb.ListApiKeysResponse:
        keys = await self._identity.list_api_keys(owner_scope())
        return pb.ListApiKeysResponse(api_keys=[api_key_to_proto(k) for k in keys])

    async def RevokeApiKey(self, request: pb.RevokeApiKeyRequest, context) -> pb.ApiKey:
        return api_key_to_proto(await self._identity.revoke_api_key(request.key_id, owner_scope()))

    async def _users(self) -> list[pb.User]:
        return [user_to_proto(u) for u in await self._identity.list_users(owner_scope())]

    async def ListUsers(self, request, context) -> pb.ListUsersResponse:
        return pb.ListUsersResponse(users=await self._users())

    async def ListUsersJson(self, request, context) -> httpbody_pb2.HttpBody:
        users = [message_to_dict(u) for u in await self._users()]
        return json_http_body(users)
