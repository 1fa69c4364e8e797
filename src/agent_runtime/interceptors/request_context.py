"""Request ids and the access log: binds `request_id` and `rpc` to structlog's
context for the whole call (for the lines logged during it) and writes one
`rpc.done` line with its status."""

from __future__ import annotations

import time
import uuid

import grpc
import structlog

from agent_runtime.interceptors import metadata_value
from agent_runtime.logs import access_line

# Health checks poll often; their success lines are noise.
_QUIET_METHODS = ("/grpc.health.v1.Health/Check",)


def begin_call(context, method: str, metadata) -> tuple[str, str]:
    """Binds the request id; returns it and the peer. The peer is read now:
    reading it from a call that the client already cancelled crashes
    grpcio (segfault in grpc_call_get_peer)."""
    request_id = metadata_value(metadata, "x-request-id") or str(uuid.uuid4())
    peer = context.peer()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id, rpc=method)
    context.set_trailing_metadata((("x-request-id", request_id),))
    return request_id, peer


def end_call(
    context, method: str, request_id: str, peer: str, started: float, error: BaseException | None
) -> None:
    code = context.code() if hasattr(context, "code") else None
    if code is None or isinstance(code, int):
        code = grpc.StatusCode.UNKNOWN if error else grpc.StatusCode.OK
    if code == grpc.StatusCode.OK and method in _QUIET_METHODS:
        return
    access_line(request_id, method, code.name, round((time.perf_counter() - started) * 1000, 3), peer)
