"""Ending live server streams when the server stops: each ends cleanly and
resumably instead of being cut. The codelab SSE streams (AgentStreamEvent)
get a last `server_stopping` event with the sequence to resume after; every
other server stream ends UNAVAILABLE (code SERVER_STOPPING) with a RetryInfo,
which gRPC clients read as "reconnect and resume from what you have"."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from typing import Any, AsyncIterator

from agentruntime.v1 import agent_pb2
from agent_runtime.errors import Unavailable

# Seconds a client should wait before reconnecting (a restart takes a few).
RETRY_AFTER_SECONDS = 2


class ServerStopping(Unavailable):
    code = "SERVER_STOPPING"
    retry_after_seconds = RETRY_AFTER_SECONDS

    def __init__(self) -> None:
        super().__init__(
            f"The server is stopping: reconnect in {RETRY_AFTER_SECONDS}s and resume after the last sequence you received"
        )


class Draining:
    """Set once, when the server begins to stop."""

    def __init__(self) -> None:
        self._stopping = asyncio.Event()

    def begin(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def wait(self) -> None:
        await self._stopping.wait()


async def until_draining(responses: AsyncIterator[Any], draining: Draining) -> AsyncIterator[Any]:
    """`responses` until they end or the server drains; then raises
    ServerStopping, or, for a run's event stream (AgentStreamEvent) that has
    sent an event, yields the resumable `server_stopping` event and ends."""
    # Every step runs in the call's one context, as the handler would
    # without us (a context variable it sets stays set for its next step).
    context = contextvars.copy_context()
    stop = asyncio.ensure_future(draining.wait())
    step: asyncio.Task | None = None
    resume_from: agent_pb2.AgentStreamEvent | None = None
    try:
        while True:
            step = asyncio.create_task(_next(responses), context=context)
            await asyncio.wait((step, stop), return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                break
            try:
                response = step.result()
            except StopAsyncIteration:
                return
            step = None
            if isinstance(response, agent_pb2.AgentStreamEvent) and response.HasField("sequence"):
                resume_from = response
            yield response
    finally:
        stop.cancel()
        if step is not None and not step.done():
            step.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await step
        await responses.aclose()
    if resume_from is None:
        raise ServerStopping()
    yield stopping_event(resume_from)


def stopping_event(last: agent_pb2.AgentStreamEvent) -> agent_pb2.AgentStreamEvent:
    """The last SSE event of a run stream cut by a stop: resume after
    `sequence` with GET /agent/runs/{task_id}/stream?after_sequence=N."""
    event = agent_pb2.AgentStreamEvent(
        type="server_stopping",
        reason=f"The server is stopping: resume with after_sequence={last.sequence} in {RETRY_AFTER_SECONDS}s",
        code=ServerStopping.code,
        sequence=last.sequence,
    )
    if last.HasField("task_id"):
        event.task_id = last.task_id
    return event


async def _next(responses: AsyncIterator[Any]) -> Any:
    return await anext(responses)
