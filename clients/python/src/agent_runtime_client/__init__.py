"""Python client of Agent Runtime's gRPC API.

    from agent_runtime_client import Client
    from agentruntime.v1 import session_pb2

    with Client("localhost:50051", api_key="dev-api-key") as client:
        client.sessions.CreateSession(session_pb2.CreateSessionRequest(session_id="abc"))

AsyncClient is the asyncio twin. Requests and responses are the generated
messages of the `agentruntime.v1` package; failures raise AgentRuntimeError
subclasses whose `reason` is the documented error code.
"""

from agent_runtime_client.aio import AsyncClient, AsyncService
from agent_runtime_client.errors import (
    AgentRuntimeError,
    AlreadyExistsError,
    ConflictError,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UnauthenticatedError,
    UnavailableError,
)
from agent_runtime_client.sync import Client, Service

__all__ = [
    "AgentRuntimeError",
    "AlreadyExistsError",
    "AsyncClient",
    "AsyncService",
    "Client",
    "ConflictError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "Service",
    "UnauthenticatedError",
    "UnavailableError",
]
