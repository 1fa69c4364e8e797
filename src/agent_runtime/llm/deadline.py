"""The total deadline of one model call. The SDKs' timeout
(LLM_TIMEOUT_SECONDS) bounds each read, so a provider that keeps a stream
alive (SSE keep-alive comments, a token an hour) never trips it; this bounds
the whole call, retries and all (LLM_TOTAL_TIMEOUT_SECONDS)."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, TypeVar

from agent_runtime.llm.base import LLMError

T = TypeVar("T")


async def within_deadline(events: AsyncIterator[T], seconds: float, what: str) -> AsyncIterator[T]:
    """`events` as they come, until `seconds` after the first request: then
    the provider's stream is closed and LLMError raised."""
    deadline = asyncio.get_running_loop().time() + seconds
    try:
        while True:
            try:
                # The deadline covers only the wait for the provider: never
                # the consumer's work between events.
                async with asyncio.timeout_at(deadline):
                    event = await anext(events)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise LLMError(
                    f"{what}: no complete answer within {seconds:g}s (LLM_TOTAL_TIMEOUT_SECONDS); the call was abandoned"
                ) from None
            yield event
    finally:
        await events.aclose()
