"""Request ids and the access log: binds `request_id` and `rpc` to structlog's
context for the whole call and writes one `rpc.done` line with its status."""

from __future__ import annotations

import time
import uuid

import grpc
import structlog

from agent_runtime.interceptors import metadata_value

log = structlog.get_logger("agent_runtime.access")

# Health checks poll often; their success lines are noise.
_QUIET_METHODS = ("/grpc.health.v1.Health/Check",)


def begin_call(context, method: str, metadata) -> str:
    """Binds the request id and returns the peer. The peer is read now:
    reading it from a call that the client already cancelled crashes
    grpcio (segfault in grpc_call_get_peer)."""
    request_id = metadata_value(metadata, "x-request-id") or str(uuid.uuid4())
    peer = context.peer()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id, rpc=method)
    context.set_trailing_metadata((("x-request-id", request_id),))
    return peer


def end_call(context, method: str, peer: str, started: float, error: BaseException | None) -> None:
    code = context.code() if hasattr(context, "code") else None
    if code is None or isinstance(code, int):
        code = grpc.StatusCode.UNKNOWN if error else grpc.StatusCode.OK
    if code == grpc.StatusCode.OK and method in _QUIET_METHODS:
        return
    log.info(
        "rpc.done",
        code=code.name,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        peer=peer,
    )
