"""Streams that survive a broken connection: on UNAVAILABLE (a restarting
server, a dropped connection) the stream is opened again after the sequence
of the last message handed over, so nothing is skipped or repeated."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, Callable, TypeVar

from agent_runtime_client.errors import UnavailableError

Message = TypeVar("Message")

FIRST_RECONNECT_DELAY = 0.1
MAX_RECONNECT_DELAY = 5.0


async def resume_by_sequence(
    open_stream: Callable[[int | None], AsyncIterator[Message]],
    sequence_of: Callable[[Message], int | None],
    after_sequence: int | None,
    reconnect_timeout: float,
) -> AsyncIterator[Message]:
    """Yields the messages of `open_stream(after)`, reopening it after the
    highest sequence seen when it fails with UNAVAILABLE (the server replays
    only what came after it). Gives up (re-raising UnavailableError) once the
    server has been unreachable for `reconnect_timeout` seconds."""
    last = after_sequence
    delay = FIRST_RECONNECT_DELAY
    unreachable_since: float | None = None
    while True:
        try:
            async for message in open_stream(last):
                unreachable_since, delay = None, FIRST_RECONNECT_DELAY
                sequence = sequence_of(message)
                # Not every message moves the cursor: a run's `done` repeats
                # the sequence of the run event it reports.
                if sequence is not None and (last is None or sequence > last):
                    last = sequence
                yield message
            return
        except UnavailableError:
            now = time.monotonic()
            unreachable_since = unreachable_since or now
            if now - unreachable_since >= reconnect_timeout:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RECONNECT_DELAY)
