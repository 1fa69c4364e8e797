"""The server's error model as exceptions: every failed call raises an
AgentRuntimeError (a subclass per gRPC status) carrying the documented code
from the status's google.rpc.ErrorInfo as `reason`."""

from __future__ import annotations

from typing import Iterable

import grpc
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"


class AgentRuntimeError(Exception):
    """A call failed. `reason` is the documented error code (e.g.
    `SESSION_NOT_FOUND`; the status code's name when the server attached no
    ErrorInfo, e.g. `UNAVAILABLE` for a transport failure), `detail` the
    server's message, `metadata` the ErrorInfo metadata (`http_status`,
    `field.<name>` for each invalid field)."""

    def __init__(self, status: grpc.StatusCode, detail: str, reason: str, metadata: dict[str, str]):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.status = status
        self.detail = detail
        self.reason = reason
        self.metadata = metadata

    @property
    def http_status(self) -> int | None:
        """The HTTP status the REST API answers for the same error."""
        value = self.metadata.get("http_status")
        return int(value) if value and value.isdigit() else None

    @property
    def field_errors(self) -> dict[str, str]:
        """What is wrong with each invalid request field, by field name."""
        return {key[len("field."):]: value for key, value in self.metadata.items() if key.startswith("field.")}


class InvalidArgumentError(AgentRuntimeError):
    """The request is malformed or breaks a field rule (REST 400/413/422)."""


class FailedPreconditionError(AgentRuntimeError):
    """The request does not fit the resource's current state."""


class NotFoundError(AgentRuntimeError):
    """Something the request names does not exist (REST 404)."""


class AlreadyExistsError(AgentRuntimeError):
    """The resource to create exists already (REST 409)."""


class ConflictError(AgentRuntimeError):
    """The request conflicts with another change, e.g. a decided approval (REST 409)."""


class UnauthenticatedError(AgentRuntimeError):
    """No valid credentials (REST 401)."""


class PermissionDeniedError(AgentRuntimeError):
    """The credentials do not allow this (REST 403)."""


class RateLimitedError(AgentRuntimeError):
    """Too many requests or a quota reached (REST 429)."""


class UnavailableError(AgentRuntimeError):
    """The server or a service it needs cannot be reached now; retrying may help."""


class DeadlineExceededError(AgentRuntimeError):
    """The call or the work it started ran out of time (REST 504)."""


ERROR_CLASSES: dict[grpc.StatusCode, type[AgentRuntimeError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.ABORTED: ConflictError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimitedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}


def error_info(trailing_metadata: Iterable[tuple[str, str | bytes]] | None) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo of the google.rpc.Status in a call's trailers, if any."""
    for key, value in trailing_metadata or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info
    return None


def from_rpc_error(error: grpc.RpcError) -> AgentRuntimeError:
    """The AgentRuntimeError for a failed call (sync or grpc.aio)."""
    status = error.code()
    info = error_info(error.trailing_metadata())
    error_class = ERROR_CLASSES.get(status, AgentRuntimeError)
    reason = info.reason if info and info.reason else status.name
    return error_class(status, error.details() or "", reason, dict(info.metadata) if info else {})
