"""The shared live feed of /ws clients (gateway/bridge.py): one upstream
WatchSessions call per session filter and credentials, read once and
written to every client of it, each client in order and a slow one falling
behind alone (it resumes on a call of its own from where it stopped)."""

from __future__ import annotations

import asyncio

import grpc
from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from agentruntime.v1 import session_pb2
from agent_runtime.gateway.resume import ResumePoint
from agent_runtime.jsonfmt import dumps, message_to_dict


def feed_text(update: session_pb2.WatchSessionsResponse) -> str:
    """The documented JSON of one feed message. The bridge watches with
    event_json: an event comes as the server printed it, its objects in the
    order their producer sent them (a Struct keeps none)."""
    if update.type == "event":
        return '{"type":"event","data":' + update.data_json + "}"
    if update.type == "init":
        return dumps({"type": "init", "sessions": [message_to_dict(s) for s in update.sessions]})
    if update.type == "session_deleted":
        return dumps({"type": "session_deleted", "session_id": update.session_id})
    return dumps({"type": update.type, "session": message_to_dict(update.session)})


# Feed messages a /ws client may fall behind its shared feed by; one that
# falls further continues on a call of its own, resumed where it stopped.
MEMBER_BACKLOG = 1024


class _FellBehind:
    """Queue marker: the member's queue overflowed and was dropped."""


FELL_BEHIND = _FellBehind()


class FeedMember:
    """One /ws client of a SharedFeed: the encoded messages for it, in order.
    `cursor` is where it stands in the feed (the last event it was sent: its
    sequence in a one-session feed, else its feed_sequence; 0 when unknown),
    so that it can resume on a call of its own after falling behind.

    A client that keeps up is written by the feed itself, in the same loop
    for every such client (`writes_directly`): a queue and a task switch per
    client and message cost ~25 µs each, half the server's CPU per event at
    1,000 clients (bench/RESULTS.md). It gets the same frame bytes as every
    other such client (`text_frame`), framed once per message.
    Until its `init` went out, and whenever its socket's write buffer is
    past the high-water mark, its messages wait in the queue instead, sent
    by its own task with the socket's flow control; overtaking is
    impossible, as nothing goes straight out while a queued one is pending."""

    def __init__(self, feed: "SharedFeed"):
        self.feed = feed
        self.cursor = feed.cursor
        self._queue: asyncio.Queue[tuple[bytes, int] | _FellBehind | grpc.aio.AioRpcError | None] = asyncio.Queue(
            MEMBER_BACKLOG
        )
        self._connection: ServerConnection | None = None
        self._position: ResumePoint | None = None
        # A queued message is being sent: later ones queue behind it.
        self._sending = False

    def attach(self, connection: ServerConnection, position: ResumePoint) -> None:
        """The client's socket, once its `init` went out, and where it
        resumes from (told to it when the server stops)."""
        self._connection = connection
        self._position = position

    def writes_directly(self) -> asyncio.WriteTransport | None:
        """The socket's transport when the next message can go straight to
        it: an open WebSocket (a closing one queues and ends in its own task)
        with nothing queued before it and room in its write buffer."""
        connection = self._connection
        if (
            connection is None
            or self._sending
            or not self._queue.empty()
            or connection.protocol.state is not State.OPEN
            or connection.transport.get_write_buffer_size() > connection.write_limit_high
        ):
            return None
        return connection.transport

    def offer(self, item: tuple[bytes, int] | grpc.aio.AioRpcError | None) -> None:
        """Queues a message (with the cursor after it), or the end of the
        feed (None or its error)."""
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            # Drop the backlog (the member rereads it from storage) and wake
            # the sender with the marker.
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(FELL_BEHIND)
            self.feed.leave(self)

    async def next(self) -> tuple[bytes, int] | _FellBehind | grpc.aio.AioRpcError | None:
        """The next queued item; a message is pending until `sent`."""
        item = await self._queue.get()
        self._sending = True
        return item

    def sent(self, cursor: int) -> None:
        self._sending = False
        self.moved_to(cursor)

    def moved_to(self, cursor: int) -> None:
        """The client has been sent everything up to `cursor`."""
        self.cursor = cursor
        if cursor and self._position is not None:
            self._position.cursor = cursor

    def leave(self) -> None:
        self.feed.leave(self)


class SharedFeed:
    """One upstream WatchSessions call (the first client's own, after its
    `init`) read once for every member."""

    def __init__(self, call, session_id: str, metadata: tuple[tuple[str, str], ...], cursor: int, on_closed):
        self.session_id = session_id
        self.metadata = metadata
        self.cursor = cursor
        self.call = call
        # Set once no more messages will come: nobody joins then.
        self.closed = False
        self._members: set[FeedMember] = set()
        self._on_closed = on_closed
        self._reader = asyncio.create_task(self._read())

    def join(self) -> FeedMember:
        member = FeedMember(self)
        self._members.add(member)
        return member

    def leave(self, member: FeedMember) -> None:
        self._members.discard(member)
        if not self._members:
            self.close()

    def close(self) -> None:
        self.closed = True
        self._on_closed(self)
        self._reader.cancel()
        self.call.cancel()

    async def _read(self) -> None:
        end: grpc.aio.AioRpcError | None = None
        try:
            while (update := await self.call.read()) is not grpc.aio.EOF:
                if update.type == "event":
                    self.cursor = update.data.sequence if self.session_id else update.data.feed_sequence
                message = feed_text(update).encode()
                # One frame for every client that keeps up, written without
                # waiting; a failed write shows as its socket's close.
                frame = text_frame(message)
                for member in list(self._members):
                    if (transport := member.writes_directly()) is None:
                        member.offer((message, self.cursor))
                    else:
                        transport.write(frame)
                        member.moved_to(self.cursor)
        except grpc.aio.AioRpcError as error:
            end = error
        # No client joins an ended feed; those on it end as their own call would.
        self.closed = True
        self._on_closed(self)
        for member in list(self._members):
            member.offer(end)


def text_frame(message: bytes) -> bytes:
    """A complete, unmasked text frame of a UTF-8 message: what the server
    side writes to any client. The bridge negotiates no extension
    (compression=None); an uncompressed frame would be valid under
    permessage-deflate too."""
    return Frame(Opcode.TEXT, message).serialize(mask=False)


def release(call, member: FeedMember | None) -> None:
    """Ends a /ws client's feed call, or its membership of a shared feed
    (whose call, perhaps this client's own, ends with its last member)."""
    if member is not None:
        member.leave()
        if call is member.feed.call:
            return
    call.cancel()
