"""Where a /ws client stands, and the clean ending it gets when the server
stops: a `server_stopping` message naming the cursor to reconnect with, then
close code 1001 (going away)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from agent_runtime.clock import iso, utc_now
from agent_runtime.jsonfmt import dumps

GOING_AWAY = 1001
# Seconds each client gets to answer the close before the socket is dropped.
CLOSE_TIMEOUT_SECONDS = 2.0


@dataclasses.dataclass
class ResumePoint:
    """The query parameter a client resumes with (`after_sequence` within one
    session or task, `after_feed_sequence` on the all-sessions feed) and its
    value: the last event the client was sent (None: nothing known yet, the
    client reconnects live)."""

    parameter: str
    cursor: int | None = None
    session_id: str = ""

    def resume_query(self) -> dict[str, str | int]:
        query: dict[str, str | int] = {"session_id": self.session_id} if self.session_id else {}
        if self.cursor is not None:
            query[self.parameter] = self.cursor
        return query


async def say_going_away(connections: dict[ServerConnection, ResumePoint]) -> None:
    """Tells every client where to resume and closes it with 1001, all at once."""

    async def end(connection: ServerConnection, position: ResumePoint) -> None:
        resume = position.resume_query()
        with contextlib.suppress(ConnectionClosed):
            await connection.send(dumps({"type": "server_stopping", "resume": resume, "timestamp": iso(utc_now())}))
            cursor = f"; resume with {position.parameter}={position.cursor}" if position.cursor is not None else ""
            # A close reason is at most 123 bytes.
            await asyncio.wait_for(connection.close(GOING_AWAY, f"server stopping{cursor}"[:123]), CLOSE_TIMEOUT_SECONDS)

    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.gather(*(end(connection, position) for connection, position in list(connections.items())))
