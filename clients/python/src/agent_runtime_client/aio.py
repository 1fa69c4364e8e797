"""The asyncio client: one grpc.aio channel, the credentials on every call,
failures raised as AgentRuntimeError, and event streams that resume by
sequence."""

from __future__ import annotations

import functools
from typing import Any, AsyncIterator, Sequence

import grpc
from agentruntime.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    compute_pb2_grpc,
    docs_pb2_grpc,
    identity_pb2_grpc,
    ml_pb2,
    ml_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
)

from agent_runtime_client.errors import from_rpc_error
from agent_runtime_client.resume import resume_by_sequence

# Client attribute -> generated stub of the service.
SERVICES = {
    "sessions": session_pb2_grpc.SessionServiceStub,
    "agents": agent_pb2_grpc.AgentServiceStub,
    "compute": compute_pb2_grpc.ComputeServiceStub,
    "identity": identity_pb2_grpc.IdentityServiceStub,
    "ml": ml_pb2_grpc.MLServiceStub,
    "docs": docs_pb2_grpc.DocsServiceStub,
}
STREAMING_RESPONSES = (grpc.aio.UnaryStreamMultiCallable, grpc.aio.StreamStreamMultiCallable)


def credentials_metadata(api_key: str | None, bearer_token: str | None) -> tuple[tuple[str, str], ...]:
    metadata = []
    if api_key:
        metadata.append(("x-api-key", api_key))
    if bearer_token:
        metadata.append(("authorization", f"Bearer {bearer_token}"))
    return tuple(metadata)


class AsyncService:
    """The RPCs of one service, named as in the protos: `await
    service.GetSession(request)` for a single response, `async for message in
    service.WatchSessions(request)` for a streamed one. Keyword arguments
    (`timeout`, `metadata`, …) go to grpc."""

    def __init__(self, stub: Any, metadata: tuple[tuple[str, str], ...]):
        self._stub = stub
        self._metadata = metadata

    def __getattr__(self, name: str):
        method = getattr(self._stub, name)
        call = self._stream if isinstance(method, STREAMING_RESPONSES) else self._unary
        return functools.partial(call, method)

    async def _unary(self, method, request, *, metadata: Sequence[tuple[str, str]] = (), **options):
        try:
            return await method(request, metadata=self._metadata + tuple(metadata), **options)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    async def _stream(self, method, request, *, metadata: Sequence[tuple[str, str]] = (), **options):
        call = method(request, metadata=self._metadata + tuple(metadata), **options)
        try:
            async for message in call:
                yield message
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        finally:
            # A caller that stops iterating ends the call on the server too.
            call.cancel()


class AsyncClient:
    """Connects to `target` (host:port). Authenticates every call with
    `api_key` (`x-api-key`) and/or `bearer_token` (`authorization: Bearer`);
    `credentials` makes it a TLS channel. The services are attributes:
    `sessions`, `agents`, `compute`, `identity`, `ml`, `docs`. The
    `*_events` streams reconnect for up to `reconnect_timeout` seconds."""

    sessions: AsyncService
    agents: AsyncService
    compute: AsyncService
    identity: AsyncService
    ml: AsyncService
    docs: AsyncService

    def __init__(
        self,
        target: str,
        *,
        api_key: str | None = None,
        bearer_token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
        reconnect_timeout: float = 60.0,
    ):
        if credentials is None:
            self.channel = grpc.aio.insecure_channel(target, options=options)
        else:
            self.channel = grpc.aio.secure_channel(target, credentials, options=options)
        self.reconnect_timeout = reconnect_timeout
        metadata = credentials_metadata(api_key, bearer_token)
        for attribute, stub in SERVICES.items():
            setattr(self, attribute, AsyncService(stub(self.channel), metadata))

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def session_events(self, session_id: str, *, after_sequence: int | None = None) -> AsyncIterator[session_pb2.Event]:
        """The session's events, live, as they are appended (first those
        after `after_sequence` when given), resuming across reconnects after
        the last event yielded. Without `after_sequence`, events appended
        during an outage before the first event arrived are not replayed."""

        def open_stream(after: int | None):
            return self.sessions.WatchSessions(session_pb2.WatchSessionsRequest(session_id=session_id, after_sequence=after))

        def event_sequence(message: session_pb2.WatchSessionsResponse) -> int | None:
            return message.data.sequence if message.type == "event" else None

        async for message in resume_by_sequence(open_stream, event_sequence, after_sequence, self.reconnect_timeout):
            if message.type == "event":
                yield message.data

    def task_events(self, task_id: str, *, after_sequence: int = 0) -> AsyncIterator[agent_pb2.TaskEvent]:
        """An agent task's events (WatchAgentTask) until the task ends."""
        return resume_by_sequence(
            lambda after: self.agents.WatchAgentTask(agent_pb2.WatchAgentTaskRequest(task_id=task_id, after_sequence=after)),
            lambda event: event.sequence,
            after_sequence,
            self.reconnect_timeout,
        )

    def run_events(self, task_id: str, *, after_sequence: int = 0) -> AsyncIterator[agent_pb2.AgentStreamEvent]:
        """A codelab run's stream events (ResumeAgentStream) until it pauses or ends."""
        return resume_by_sequence(
            lambda after: self.agents.ResumeAgentStream(agent_pb2.ResumeAgentStreamRequest(task_id=task_id, after_sequence=after)),
            lambda event: event.sequence if event.HasField("sequence") else None,
            after_sequence,
            self.reconnect_timeout,
        )

    def job_events(self, job_id: str, *, after_sequence: int = 0) -> AsyncIterator[ml_pb2.FineTuningJobEvent]:
        """A fine-tuning job's events (WatchFineTuningJob) until it finishes."""
        return resume_by_sequence(
            lambda after: self.ml.WatchFineTuningJob(ml_pb2.WatchFineTuningJobRequest(job_id=job_id, after_sequence=after)),
            lambda event: event.sequence,
            after_sequence,
            self.reconnect_timeout,
        )
