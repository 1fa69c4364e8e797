"""Maps domain errors (and anything unexpected) to a gRPC status carrying a
google.rpc.ErrorInfo with the documented code.

For REST, the same status also travels as two trailers that the Envoy Lua
filter turns into the response: `x-error-body` (the finished JSON body
{"detail","code","timestamp"}) and `x-http-status` (the documented HTTP
status, which no gRPC code gives for 413 or 422)."""

from __future__ import annotations

import json

import grpc
import structlog
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from agent_runtime.clock import iso, utc_now
from agent_runtime.errors import DomainError
from agent_runtime.interceptors import response_headers

log = structlog.get_logger(__name__)

ERROR_DOMAIN = "agentruntime.dev"


class _Status(grpc.Status):
    def __init__(self, code: grpc.StatusCode, details: str, trailing_metadata: tuple):
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata


def rpc_status(error: DomainError) -> status_pb2.Status:
    """The google.rpc.Status of a domain error, with its ErrorInfo."""
    metadata = {"http_status": str(error.http_status), **{f"field.{k}": v for k, v in error.fields.items()}}
    info = error_details_pb2.ErrorInfo(reason=error.code, domain=ERROR_DOMAIN, metadata=metadata)
    details = [info]
    retry_after = getattr(error, "retry_after_seconds", None)
    if retry_after:
        details.append(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=retry_after)))
    packed = []
    for message in details:
        packed.append(any_pb2.Any())
        packed[-1].Pack(message)
    return status_pb2.Status(code=error.grpc_code.value[0], message=error.detail, details=packed)


def status_for(error: DomainError) -> grpc.Status:
    status = rpc_status(error)
    body = {"detail": error.detail, "code": error.code, "timestamp": iso(utc_now())}
    if error.fields:
        body["errors"] = error.fields
    trailers = [
        ("grpc-status-details-bin", status.SerializeToString()),
        ("x-error-body", json.dumps(body, ensure_ascii=True, separators=(",", ":"))),
        ("x-http-status", str(error.http_status)),
    ]
    # The rate-limit headers (and Retry-After): a trailers-only response's
    # trailers are its HTTP headers.
    trailers.extend(response_headers.get())
    # Aborting replaces the trailers set earlier in the call.
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id:
        trailers.append(("x-request-id", request_id))
    return _Status(error.grpc_code, error.detail, tuple(trailers))


def internal_error() -> DomainError:
    return DomainError("Internal server error; the server log has the details under this request id")


async def abort_with_error_model(context, error: BaseException):
    """Ends the call with the error model's status for `error`; anything
    that is not a DomainError is logged and answered as INTERNAL_ERROR."""
    if isinstance(error, DomainError):
        domain_error = error
    else:
        log.error("rpc.unhandled_error", exc_info=error)
        domain_error = internal_error()
    await context.abort_with_status(status_for(domain_error))


def is_abort(error: BaseException) -> bool:
    # context.abort() raises this internal exception type; let it through.
    return type(error).__name__ == "AbortError"
