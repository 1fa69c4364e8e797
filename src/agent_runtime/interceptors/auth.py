"""The auth check of every call (interceptors/call.py). It resolves the
caller's credential to a Principal (CredentialAuthenticator), applies the
rate limit of its user or credential (else of the client IP), and sends the
X-RateLimit-* headers with every response.

Credentials, on every surface (gRPC metadata = HTTP headers through Envoy):
- `x-internal-auth: <service token>` (INTERNAL_AUTH_TOKEN): administrator;
- `x-api-key: <AGENT_API_KEY>`: administrator; `x-api-key: md_…`: an issued
  key (its user's rights, or administrator for keys issued by one);
- `authorization: Bearer <JWT from /api/auth/login>` (or `Bearer md_…`,
  or `Bearer <AGENT_API_KEY>`); the WebSocket bridge turns `?token=` into
  this header.
A credential that is present but wrong is refused (401); it never falls
back to another credential. On open methods it is ignored (the caller counts
as unauthenticated, per client IP).
"""

from __future__ import annotations

import contextvars
import dataclasses
import hmac
from typing import Protocol

from agent_runtime.config import RateLimitSettings, Settings, is_loopback
from agent_runtime.errors import RateLimited, Unauthenticated
from agent_runtime.interceptors import metadata_value, response_headers
from agent_runtime.interceptors.client_address import ClientAddresses

# Open (no credential needed) and never counted against a rate limit nor
# refused by one: a load balancer behind the same NAT as someone guessing
# passwords must still see a healthy instance (the /ws heartbeat polls health
# too), and the API document, the files of /docs and the console (one page
# load fetches ten) and reflection are static. Their responses still report
# the caller's budget.
UNLIMITED_METHODS = frozenset(
    {
        "/agentruntime.v1.ComputeService/GetHealth",
        "/agentruntime.v1.DocsService/GetOpenApiDocument",
        "/agentruntime.v1.DocsService/GetDocsPage",
        "/agentruntime.v1.DocsService/GetDocsAsset",
        "/agentruntime.v1.DocsService/GetConsolePage",
        "/agentruntime.v1.DocsService/GetConsoleAsset",
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    }
)

# Methods anyone may call: the unlimited ones, and service info, register
# and log in, which count (per client IP without a credential; a valid
# credential sent to them counts against its own budget).
OPEN_METHODS = UNLIMITED_METHODS | {
    "/agentruntime.v1.ComputeService/GetServiceInfo",
    "/agentruntime.v1.IdentityService/Register",
    "/agentruntime.v1.IdentityService/Login",
}


# Credential header values longer than this are refused unread.
MAX_CREDENTIAL_LENGTH = 4096


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling. `admin` principals see every user's resources.

    kind: `api_key` (the configured key), `service` (x-internal-auth),
    `user_key` / `admin_key` (an issued md_ key), `jwt` (a user's bearer
    token) or `anonymous`. `user_id` is set for a user's credentials; it is
    the owner stamped on what they create (agent_runtime.identity.ownership).
    """

    kind: str
    subject: str
    admin: bool = False
    user_id: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"


ANONYMOUS = Principal(kind="anonymous", subject="anonymous")
# The principals of credentials that are not stored anywhere, made once
# (they are immutable) rather than per call.
_SERVICE = Principal(kind="service", subject="internal", admin=True)
_CONFIGURED_KEY = Principal(kind="api_key", subject="configured-key", admin=True)
_LOCAL_ANONYMOUS = Principal(kind="anonymous", subject="local", admin=True)
current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal", default=ANONYMOUS)


class Authenticator(Protocol):
    async def authenticate(self, metadata, peer: str) -> Principal:
        """Returns the caller, or raises Unauthenticated."""


class IssuedCredentials(Protocol):
    """Issued md_ keys and JWTs (agent_runtime.identity.service.IdentityService)."""

    async def principal_for_key(self, key: str) -> Principal: ...

    async def principal_for_token(self, token: str) -> Principal: ...


def _matches(value: str, accepted: frozenset[bytes]) -> bool:
    encoded = value.encode("utf-8", "surrogatepass")
    return any(hmac.compare_digest(encoded, candidate) for candidate in accepted)


class CredentialAuthenticator:
    """Resolves the credential a call carries. Without credentials: keyless
    local clients when --allow-anonymous-local is on, else 401."""

    def __init__(
        self, settings: Settings, issued: IssuedCredentials | None = None, addresses: ClientAddresses | None = None
    ):
        self._keys = frozenset(key.encode() for key in settings.accepted_api_keys())
        self._service_tokens = frozenset(token.encode() for token in settings.accepted_service_tokens())
        self._allow_anonymous_local = settings.auth.allow_anonymous_local
        self._issued = issued
        self._addresses = addresses or ClientAddresses()

    async def authenticate(self, metadata, peer: str) -> Principal:
        service_token = metadata_value(metadata, "x-internal-auth")
        api_key = metadata_value(metadata, "x-api-key")
        authorization = metadata_value(metadata, "authorization")
        for value in (service_token, api_key, authorization):
            if value is not None and len(value) > MAX_CREDENTIAL_LENGTH:
                raise Unauthenticated("Invalid credentials: the credential header is too long")
        if service_token is not None:
            if service_token and _matches(service_token, self._service_tokens):
                return _SERVICE
            raise Unauthenticated("Invalid x-internal-auth service token")
        if api_key is not None:
            return await self._key(api_key)
        if authorization is not None:
            scheme, _, token = authorization.strip().partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise Unauthenticated("Authorization header must be 'Bearer <token>'")
            if token.startswith("md_") or _matches(token, self._keys):
                return await self._key(token)
            if self._issued is None:
                raise Unauthenticated("Invalid bearer token")
            return await self._issued.principal_for_token(token)
        if self._allow_anonymous_local and is_loopback(self._addresses.of(metadata, peer)):
            return _LOCAL_ANONYMOUS
        raise Unauthenticated(
            "Missing credentials: send X-API-Key, Authorization: Bearer <token> or x-internal-auth"
        )

    async def _key(self, key: str) -> Principal:
        if key and _matches(key, self._keys):
            return _CONFIGURED_KEY
        if key.startswith("md_") and self._issued is not None:
            return await self._issued.principal_for_key(key)
        raise Unauthenticated("Invalid API key")


@dataclasses.dataclass(frozen=True)
class RateLimits:
    """Requests per window for each kind of caller; 0 = no limit."""

    authenticated: int = 100
    unauthenticated: int = 10
    admin: int = 6000

    @classmethod
    def from_settings(cls, settings: RateLimitSettings) -> "RateLimits":
        return cls(settings.authenticated, settings.unauthenticated, settings.admin)

    def for_principal(self, principal: Principal) -> int:
        if principal.admin:
            return self.admin
        return self.authenticated if principal.authenticated else self.unauthenticated


def rate_bucket(principal: Principal, client_address: str) -> str:
    """Per user (every credential of a user shares one budget, so minting
    keys buys none); per credential for those of no user (AGENT_API_KEY, the
    service token, keys issued with them); per client IP without one."""
    if principal.user_id is not None:
        return f"user:{principal.user_id}"
    if principal.authenticated:
        return f"{principal.kind}:{principal.subject}"
    return f"ip:{client_address}"


class Admission:
    """Who may make a call: the caller's Principal, or Unauthenticated /
    RateLimited. Sets the call's rate-limit headers (response_headers)."""

    def __init__(
        self,
        authenticator: Authenticator,
        limiter=None,
        limits: RateLimits | None = None,
        addresses: ClientAddresses | None = None,
    ):
        self._authenticator = authenticator
        self._limiter = limiter
        self._limits = limits or RateLimits()
        self._addresses = addresses or ClientAddresses()

    async def admit(self, method: str, metadata, peer: str) -> Principal:
        response_headers.set(())
        refusal: Unauthenticated | None = None
        try:
            principal = await self._authenticator.authenticate(metadata, peer)
        except Unauthenticated as error:
            principal = ANONYMOUS
            if method not in OPEN_METHODS:
                refusal = error
        limit = self._limits.for_principal(principal)
        # Without a limit there is no bucket to find (its client address
        # takes a constant-time secret comparison) and no header to send.
        if self._limiter is not None and limit > 0:
            decision = await self._limiter.hit(
                rate_bucket(principal, self._addresses.of(metadata, peer)), limit, count=method not in UNLIMITED_METHODS
            )
            if decision is not None:
                response_headers.set(decision.headers())
                if not decision.allowed:
                    raise RateLimited(
                        f"Rate limit of {decision.limit} requests per window exceeded: "
                        f"retry in {decision.retry_after} s"
                    )
        if refusal is not None:
            raise refusal
        return principal


async def send_response_headers(context) -> None:
    """Sends the call's rate-limit headers as initial metadata."""
    headers = response_headers.get()
    if headers:
        try:
            await context.send_initial_metadata(headers)
        except Exception:  # noqa: BLE001 - the handler already sent its own
            pass
