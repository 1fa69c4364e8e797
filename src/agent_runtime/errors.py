"""Domain errors. Domain classes raise these; the error interceptor turns each
into a gRPC status whose google.rpc.ErrorInfo carries the documented code, and
Envoy turns that into the REST body {"detail", "code", "timestamp"} with the
documented HTTP status."""

from __future__ import annotations

import grpc


class DomainError(Exception):
    """An error that a caller can act on. `code` is the documented error code."""

    grpc_code = grpc.StatusCode.INTERNAL
    http_status = 500
    code = "INTERNAL_ERROR"

    def __init__(self, detail: str, *, code: str | None = None, fields: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.fields = fields or {}


class InvalidArgument(DomainError):
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400
    code = "BAD_REQUEST"


class ValidationFailed(DomainError):
    """Well-formed input that breaks a field rule; `fields` says which."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 422
    code = "VALIDATION_ERROR"


class FailedPrecondition(DomainError):
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    http_status = 400
    code = "FAILED_PRECONDITION"


class NotFound(DomainError):
    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404
    code = "NOT_FOUND"


class AlreadyExists(DomainError):
    grpc_code = grpc.StatusCode.ALREADY_EXISTS
    http_status = 409
    code = "ALREADY_EXISTS"


class Conflict(DomainError):
    grpc_code = grpc.StatusCode.ABORTED
    http_status = 409
    code = "CONFLICT"


class Unauthenticated(DomainError):
    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    http_status = 401
    code = "UNAUTHORIZED"


class PermissionDenied(DomainError):
    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    http_status = 403
    code = "FORBIDDEN"


class PayloadTooLarge(DomainError):
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 413
    code = "PAYLOAD_TOO_LARGE"


class RateLimited(DomainError):
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 429
    code = "RATE_LIMITED"


class Unavailable(DomainError):
    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503
    code = "UNAVAILABLE"


class DeadlineExceeded(DomainError):
    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    http_status = 504
    code = "DEADLINE_EXCEEDED"
