"""The blocking client: the asyncio client run on an event loop in a
background thread, so both behave the same (errors, credentials, resume)."""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any, AsyncIterator, Coroutine, Iterator, TypeVar

from agentruntime.v1 import agent_pb2, ml_pb2, session_pb2

from agent_runtime_client.aio import SERVICES, AsyncClient, AsyncService

Result = TypeVar("Result")


class _LoopThread:
    """An event loop running in a daemon thread."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="agent-runtime-client", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Result]) -> Result:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def iterate(self, stream: AsyncIterator[Result]) -> Iterator[Result]:
        async def next_message():
            return await anext(stream)

        try:
            while True:
                try:
                    yield self.run(next_message())
                except StopAsyncIteration:
                    return
        finally:
            if inspect.isasyncgen(stream):
                self.run(stream.aclose())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class Service:
    """The RPCs of one service, blocking: `service.GetSession(request)`
    returns the response, a streamed response is an iterator."""

    def __init__(self, service: AsyncService, loop: _LoopThread):
        self._service = service
        self._loop = loop

    def __getattr__(self, name: str):
        method = getattr(self._service, name)

        def call(*args, **kwargs):
            started = method(*args, **kwargs)
            return self._loop.iterate(started) if inspect.isasyncgen(started) else self._loop.run(started)

        return call


class Client:
    """The blocking twin of AsyncClient (same arguments and attributes).
    Use it as a context manager or call close()."""

    sessions: Service
    agents: Service
    compute: Service
    identity: Service
    ml: Service
    docs: Service

    def __init__(self, target: str, **options):
        self._loop = _LoopThread()

        async def connect() -> AsyncClient:
            # grpc.aio channels belong to the loop they are created on.
            return AsyncClient(target, **options)

        self._client = self._loop.run(connect())
        for attribute in SERVICES:
            setattr(self, attribute, Service(getattr(self._client, attribute), self._loop))

    def close(self) -> None:
        self._loop.run(self._client.close())
        self._loop.stop()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def session_events(self, session_id: str, *, after_sequence: int | None = None) -> Iterator[session_pb2.Event]:
        """See AsyncClient.session_events."""
        return self._loop.iterate(self._client.session_events(session_id, after_sequence=after_sequence))

    def task_events(self, task_id: str, *, after_sequence: int = 0) -> Iterator[agent_pb2.TaskEvent]:
        """See AsyncClient.task_events."""
        return self._loop.iterate(self._client.task_events(task_id, after_sequence=after_sequence))

    def run_events(self, task_id: str, *, after_sequence: int = 0) -> Iterator[agent_pb2.AgentStreamEvent]:
        """See AsyncClient.run_events."""
        return self._loop.iterate(self._client.run_events(task_id, after_sequence=after_sequence))

    def job_events(self, job_id: str, *, after_sequence: int = 0) -> Iterator[ml_pb2.FineTuningJobEvent]:
        """See AsyncClient.job_events."""
        return self._loop.iterate(self._client.job_events(job_id, after_sequence=after_sequence))
