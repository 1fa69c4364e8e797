"""The auth check: one interceptor for every service, with the credential
rules behind a pluggable Authenticator. The identity issue adds JWTs, issued
API keys and service tokens as further authenticators."""

from __future__ import annotations

import contextvars
import dataclasses
import hmac
from typing import Protocol

from agent_runtime.config import Settings, is_loopback
from agent_runtime.errors import Unauthenticated
from agent_runtime.interceptors import HandlerInterceptor, metadata_value

# Methods anyone may call: health, service info, reflection.
OPEN_METHODS = frozenset(
    {
        "/agentruntime.v1.ComputeService/GetHealth",
        "/agentruntime.v1.ComputeService/GetServiceInfo",
        "/agentruntime.v1.DocsService/GetOpenApiDocument",
        "/agentruntime.v1.DocsService/GetDocsPage",
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    }
)


# Set by Envoy on every request (envoy/listener.yaml), overwriting any value a
# client sent.
CLIENT_ADDRESS_HEADER = "x-client-address"


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling. `admin` principals see every user's resources."""

    kind: str
    subject: str
    admin: bool = False


ANONYMOUS = Principal(kind="anonymous", subject="anonymous")
current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal", default=ANONYMOUS)


class Authenticator(Protocol):
    async def authenticate(self, metadata, peer: str) -> Principal:
        """Returns the caller, or raises Unauthenticated."""


def client_address(metadata, peer: str) -> str:
    """The calling client's IP. Behind our Envoy or bridge (a loopback peer)
    it is the x-client-address that Envoy sets; a peer beyond loopback is the
    client itself, whatever headers it sends."""
    host = _peer_host(peer)
    if is_loopback(host):
        forwarded = metadata_value(metadata, CLIENT_ADDRESS_HEADER)
        if forwarded:
            return forwarded.strip()
    return host


def _peer_host(peer: str) -> str:
    # grpc peers look like ipv4:127.0.0.1:5000 or ipv6:[::1]:5000
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return rest or peer


class ApiKeyAuthenticator:
    """`X-API-Key` against the configured key (or `dev-api-key` on a
    loopback-only server); keyless local clients when
    --allow-anonymous-local is on."""

    def __init__(self, settings: Settings):
        self._keys = settings.accepted_api_keys()
        self._allow_anonymous_local = settings.allow_anonymous_local

    async def authenticate(self, metadata, peer: str) -> Principal:
        key = metadata_value(metadata, "x-api-key")
        authorization = metadata_value(metadata, "authorization") or ""
        if key is None and authorization.lower().startswith("bearer "):
            # The key as a bearer token: what `?token=` on a WebSocket URL becomes.
            key = authorization[7:].strip()
        if key is not None:
            if any(hmac.compare_digest(key.encode(), accepted.encode()) for accepted in self._keys):
                return Principal(kind="api_key", subject="configured-key", admin=True)
            raise Unauthenticated("Invalid API key")
        if self._allow_anonymous_local and is_loopback(client_address(metadata, peer)):
            return Principal(kind="anonymous", subject="local", admin=True)
        raise Unauthenticated("Missing credentials: send the X-API-Key header")


class AuthInterceptor(HandlerInterceptor):
    def __init__(self, authenticator: Authenticator):
        self._authenticator = authenticator

    async def _principal(self, context, method: str, metadata) -> Principal:
        if method in OPEN_METHODS:
            return ANONYMOUS
        return await self._authenticator.authenticate(metadata, context.peer())

    async def around_unary(self, behaviour, request, context, method, metadata):
        current_principal.set(await self._principal(context, method, metadata))
        return await behaviour(request, context)

    async def around_stream(self, behaviour, request, context, method, metadata):
        current_principal.set(await self._principal(context, method, metadata))
        async for response in behaviour(request, context):
            yield response
