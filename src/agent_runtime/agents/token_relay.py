"""Model tokens to subscribers as they arrive, stored as they are sent.

A token becomes a `token` event at once when no write is in flight; tokens
that arrive while one is being committed go out together in the next event.
So an idle store gives one event per token (a token waits one commit, not a
timer), and a busy store batches by itself instead of falling behind. Every
event a subscriber sees is stored first, so resuming by sequence stays exact.
Reading the model never waits for a commit.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable


class TokenRelay:
    def __init__(self, emit: Callable[[str], Awaitable[object]]):
        self._emit = emit
        self._waiting: list[str] = []
        self._writer: asyncio.Task | None = None

    def push(self, text: str) -> None:
        """Queues `text`; it is written (and published) as soon as the write
        before it has committed."""
        if not text:
            return
        self._waiting.append(text)
        if self._writer is None or self._writer.done():
            if self._writer is not None:
                # A failed write ends the relay: surface it now, not at close.
                self._writer.result()
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while self._waiting:
            text = "".join(self._waiting)
            self._waiting.clear()
            await self._emit(text)

    async def close(self) -> None:
        """Waits until every pushed token is written; raises what a write
        raised. Cancels the pending write when the caller is cancelled."""
        if self._writer is None:
            return
        try:
            await asyncio.shield(self._writer)
        except asyncio.CancelledError:
            self._writer.cancel()
            raise
