"""The HTTP side of the bridge's WebSocket handshakes: which request headers
go to the gRPC server as credentials, and the JSON error responses (with
the server's own status and body) when a stream cannot start."""

from __future__ import annotations

import http
import json
import urllib.parse

import grpc
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from agent_runtime.clock import iso, utc_now

# Request headers handed to the gRPC server as metadata.
# x-client-address counts only with Envoy's x-gateway-secret beside it
# (interceptors/client_address.py).
FORWARDED_HEADERS = (
    "x-api-key",
    "authorization",
    "x-internal-auth",
    "x-client-address",
    "x-gateway-secret",
    "x-request-id",
)


def credentials_metadata(request: Request) -> tuple[tuple[str, str], ...]:
    metadata = [(name, request.headers[name]) for name in FORWARDED_HEADERS if name in request.headers]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
    if "token" in query and "authorization" not in request.headers:
        # Browsers cannot set headers on a WebSocket: the documents put the
        # token in the URL instead.
        metadata.append(("authorization", f"Bearer {query['token'][0]}"))
    return tuple(metadata)


# Response headers of the feed call passed on to the WebSocket client.
PASSED_RESPONSE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after")


def passed_headers(metadata) -> list[tuple[str, str]]:
    return [(key, value) for key, value in (metadata or ()) if key in PASSED_RESPONSE_HEADERS]


def error_response(status: int, detail: str, code: str, extra_headers=(), body: bytes | None = None) -> Response:
    if body is None:
        body = json.dumps({"detail": detail, "code": code, "timestamp": iso(utc_now())}).encode()
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra_headers])
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def rpc_error_response(error: grpc.aio.AioRpcError) -> Response:
    """The server's own error body and status (x-error-body, x-http-status
    trailers), as Envoy's Lua filter gives REST clients."""
    trailers = error.trailing_metadata() or ()
    status, code = GRPC_TO_HTTP.get(error.code(), (500, "INTERNAL_ERROR"))
    body = None
    for key, value in trailers:
        if key == "x-http-status" and value.isdigit() and 400 <= int(value) <= 599:
            status = int(value)
        elif key == "x-error-body":
            body = value.encode()
    return error_response(status, error.details() or code, code, passed_headers(trailers), body)


GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "BAD_REQUEST"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "UNAUTHORIZED"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "FORBIDDEN"),
    grpc.StatusCode.NOT_FOUND: (404, "NOT_FOUND"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "RATE_LIMITED"),
    grpc.StatusCode.UNAVAILABLE: (503, "UNAVAILABLE"),
}


def int_param(query: dict[str, list[str]], name: str) -> int | None:
    """A non-negative integer parameter; None when absent (0 is a value:
    `after_sequence=0` replays from the start)."""
    if name not in query:
        return None
    raw = query[name][0]
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a non-negative integer, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {raw!r}")
    return value
