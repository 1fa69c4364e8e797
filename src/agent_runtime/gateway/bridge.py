"""The WebSocket bridge: Envoy routes /ws* here; each WebSocket is served by a
gRPC client call of the streaming RPC behind it, with the caller's
credentials forwarded, so auth, ownership and errors are the server's.

`/ws` is the shared live feed (DESIGN rule 1): `connected`, then the
session feed's `init`, `event` and `session_*` messages, `task_update` for
every compute task change (from ComputeService.WatchTasks), and a
`heartbeat` with system metrics every few seconds.

Live `/ws` clients (no resume cursor) with the same credentials and session
filter share one upstream WatchSessions call (shared_feed.SharedFeed): the server sends
and the bridge prints each message once, and each client is written from
its own bounded queue, so a slow client delays only itself. Each client
still opens its own call during the handshake, for its credential check,
rate limit and `init` snapshot.

`/ws/tasks/{task_id}` is served by task_socket.py; the handshake helpers
(credentials, error responses) are in upgrade.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import urllib.parse
from typing import Any

import grpc
import structlog
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from agentruntime.v1 import agent_pb2_grpc, compute_pb2, compute_pb2_grpc, session_pb2, session_pb2_grpc
from agent_runtime.clock import iso, utc_now
from agent_runtime.gateway.resume import ResumePoint, say_going_away
from agent_runtime.gateway.task_socket import TASK_PATH_PREFIX, TaskSockets, TaskStream
from agent_runtime.gateway.upgrade import credentials_metadata, error_response, int_param, passed_headers, rpc_error_response
from agent_runtime.gateway.shared_feed import FELL_BEHIND, FeedMember, SharedFeed, feed_text, release
from agent_runtime.jsonfmt import dumps

log = structlog.get_logger(__name__)

# Headers that differ per request without changing who the caller is.
_PER_REQUEST_HEADERS = ("x-request-id",)


def _start_cursor(watch: session_pb2.WatchSessionsRequest, init: session_pb2.WatchSessionsResponse) -> int | None:
    """Where a new /ws client stands before its first event: the cursor it
    asked for, else the watched session's last event (None on the
    all-sessions feed, whose position comes with its first event)."""
    if watch.session_id:
        if watch.HasField("after_sequence"):
            return watch.after_sequence
        return init.sessions[0].last_sequence if init.sessions else 0
    return watch.after_feed_sequence if watch.HasField("after_feed_sequence") else None


class WebSocketBridge:
    def __init__(self, grpc_target: str, *, heartbeat_seconds: float = 5.0):
        self._channel = grpc.aio.insecure_channel(grpc_target)
        self._sessions = session_pb2_grpc.SessionServiceStub(self._channel)
        self._compute = compute_pb2_grpc.ComputeServiceStub(self._channel)
        self._tasks = TaskSockets(agent_pb2_grpc.AgentServiceStub(self._channel))
        self._heartbeat_seconds = heartbeat_seconds
        self._server: Server | None = None
        # Feed calls opened during the handshake, taken over by the handler.
        self._pending: dict[int, tuple[Any, session_pb2.WatchSessionsResponse]] = {}
        # Compute task watches opened during the handshake (None: not served).
        self._task_watches: dict[int, Any] = {}
        # Live feeds by (session filter, credentials), each shared by its clients.
        self._shared_feeds: dict[tuple, asyncio.Future[SharedFeed | None]] = {}
        # Shared-feed memberships taken during the handshake, by connection.
        self._members: dict[int, FeedMember] = {}
        # Task streams (/ws/tasks/…) started during the handshake.
        self._task_streams: dict[int, TaskStream] = {}
        # /ws feed clients past their `init` (each gets the heartbeat), with
        # where each would resume.
        self._feed_connections: dict[ServerConnection, ResumePoint] = {}
        # Resume points made during the handshake, by connection.
        self._positions: dict[int, ResumePoint] = {}
        self._heartbeats: asyncio.Task | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await serve(
            self._handle,
            host,
            port,
            process_request=self._open_feed,
            process_response=self._add_headers,
            # Feed messages are a few hundred bytes, and each client would
            # compress each one again: CPU for little saved on the wire.
            compression=None,
        )
        self._heartbeats = asyncio.create_task(self._send_heartbeats())
        return self._server.sockets[0].getsockname()[1]

    async def drain(self) -> None:
        """Before the server stops: no new clients, and every open socket
        learns where to resume and closes with 1001 (going away)."""
        if self._server is not None:
            self._server.close(close_connections=False)
        await say_going_away({**self._feed_connections, **self._tasks.connections})

    async def stop(self) -> None:
        if self._heartbeats is not None:
            self._heartbeats.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for call, _ in self._pending.values():
            call.cancel()
        for stream in self._task_streams.values():
            stream.call.cancel()
        for call in self._task_watches.values():
            if call is not None:
                call.cancel()
        for starting in list(self._shared_feeds.values()):
            if starting.done() and starting.result() is not None:
                starting.result().close()
        await self._channel.close()

    async def _open_feed(self, connection: ServerConnection, request: Request) -> Response | None:
        """Starts the gRPC stream before accepting the WebSocket, so a bad
        credential or parameter is an HTTP error rather than a closed socket."""
        url = urllib.parse.urlsplit(request.path)
        if url.path.startswith(TASK_PATH_PREFIX):
            opened = await self._tasks.open(request, url)
            if isinstance(opened, Response):
                return opened
            self._task_streams[id(connection)] = opened
            return None
        if url.path.rstrip("/") != "/ws":
            return error_response(404, f"No WebSocket endpoint at {url.path}", "NOT_FOUND")
        query = urllib.parse.parse_qs(url.query)
        try:
            watch = session_pb2.WatchSessionsRequest(
                session_id=query.get("session_id", [""])[0],
                after_sequence=int_param(query, "after_sequence"),
                after_feed_sequence=int_param(query, "after_feed_sequence"),
                event_json=True,
            )
        except ValueError as error:
            return error_response(400, str(error), "BAD_REQUEST")
        metadata = credentials_metadata(request)
        key = (watch.session_id, tuple(item for item in metadata if item[0] not in _PER_REQUEST_HEADERS))
        shareable = not watch.HasField("after_sequence") and not watch.HasField("after_feed_sequence")
        member, starting = None, None
        if shareable and (pending_feed := self._shared_feeds.get(key)) is not None:
            # Joined before this client's own call subscribes, so that the
            # feed holds every message from before its `init`.
            if (feed := await asyncio.shield(pending_feed)) is not None and not feed.closed:
                member = feed.join()
        elif shareable:
            # This client's call becomes the shared feed: others joining
            # meanwhile wait for its `init`.
            starting = self._shared_feeds[key] = asyncio.get_running_loop().create_future()
        call = self._sessions.WatchSessions(watch, metadata=metadata)
        try:
            first = await call.read()
        except grpc.aio.AioRpcError as error:
            first = error
        if not isinstance(first, session_pb2.WatchSessionsResponse):
            if member is not None:
                member.leave()
            if starting is not None:
                self._forget_feed(key, starting)
                starting.set_result(None)
            if first is grpc.aio.EOF:
                return error_response(503, "The session feed ended before it started", "UNAVAILABLE")
            return rpc_error_response(first)
        if starting is not None:
            # Where the feed starts: a one-session feed at that session's
            # last event; the all-sessions feed's position comes with its
            # first event.
            cursor = first.sessions[0].last_sequence if watch.session_id and first.sessions else 0
            feed = SharedFeed(call, watch.session_id, key[1], cursor, lambda _feed: self._forget_feed(key, starting))
            starting.set_result(feed)
            member = feed.join()
        self._pending[id(connection)] = (call, first)
        self._positions[id(connection)] = ResumePoint(
            "after_sequence" if watch.session_id else "after_feed_sequence",
            _start_cursor(watch, first),
            watch.session_id,
        )
        if member is not None:
            self._members[id(connection)] = member
        self._task_watches[id(connection)] = await self._open_task_watch(request)
        return None

    def _forget_feed(self, key: tuple, starting: asyncio.Future) -> None:
        if self._shared_feeds.get(key) is starting:
            del self._shared_feeds[key]

    async def _add_headers(self, connection: ServerConnection, request: Request, response: Response) -> Response:
        """The feed call's rate-limit headers on the handshake response."""
        if response.status_code != 101:
            # The handshake failed after _open_feed: nothing will serve it.
            pending = self._pending.pop(id(connection), None)
            member = self._members.pop(id(connection), None)
            self._positions.pop(id(connection), None)
            if pending is not None:
                release(pending[0], member)
            if (task_watch := self._task_watches.pop(id(connection), None)) is not None:
                task_watch.cancel()
            if (stream := self._task_streams.pop(id(connection), None)) is not None:
                stream.call.cancel()
            return response
        pending = self._pending.get(id(connection))
        # Task streams (/ws/tasks/…) carry no such headers: their first
        # metadata may come only with the first event.
        if pending is not None:
            with contextlib.suppress(Exception):
                for key, value in passed_headers(await pending[0].initial_metadata()):
                    response.headers[key] = value
        return response

    async def _open_task_watch(self, request: Request):
        """Opens ComputeService.WatchTasks and waits for its `watching`
        message, so no task change after the handshake is missed. A server
        without it leaves the feed without task updates."""
        call = self._compute.WatchTasks(compute_pb2.WatchTasksRequest(), metadata=credentials_metadata(request))
        try:
            first = await call.read()
        except grpc.aio.AioRpcError as error:
            log.warning("bridge.task_watch_unavailable", code=error.code().name)
            return None
        return None if first is grpc.aio.EOF else call

    async def _handle(self, connection: ServerConnection) -> None:
        if (stream := self._task_streams.pop(id(connection), None)) is not None:
            await self._tasks.serve(connection, stream)
            return
        call, first = self._pending.pop(id(connection))
        position = self._positions.pop(id(connection))
        task_watch = self._task_watches.pop(id(connection), None)
        member = self._members.pop(id(connection), None)
        tasks = []
        try:
            await connection.send(
                dumps({"type": "connected", "timestamp": iso(utc_now()), "message": "Connected to Agent Runtime WebSocket"})
            )
            await connection.send(feed_text(first))
            if member is not None and call is not member.feed.call:
                # Its own call was for the handshake and this `init`; the
                # shared feed holds everything since.
                call.cancel()
            self._feed_connections[connection] = position
            tasks = [
                asyncio.create_task(
                    self._forward_shared(connection, member, position)
                    if member is not None
                    else self._forward_feed(connection, call, position)
                ),
                asyncio.create_task(self._drain_client(connection)),
                asyncio.create_task(self._forward_task_updates(connection, task_watch)),
            ]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is not None and not isinstance(task.exception(), asyncio.CancelledError):
                    raise task.exception()
        except grpc.aio.AioRpcError as error:
            await connection.send(
                dumps({"type": "error", "error": error.details(), "code": error.code().name, "timestamp": iso(utc_now())})
            )
            await connection.close(1011, "feed ended")
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("bridge.feed_failed")
            with contextlib.suppress(ConnectionClosed):
                await connection.close(1011, "internal error")
        finally:
            for task in tasks:
                task.cancel()
            self._feed_connections.pop(connection, None)
            release(call, member)
            if task_watch is not None:
                task_watch.cancel()

    async def _forward_feed(self, connection: ServerConnection, call, position: ResumePoint) -> None:
        # read(), not iteration: the handshake already used read() on this call.
        while (update := await call.read()) is not grpc.aio.EOF:
            await connection.send(feed_text(update))
            if update.type == "event":
                position.cursor = update.data.sequence if position.session_id else update.data.feed_sequence

    async def _forward_shared(self, connection: ServerConnection, member: FeedMember, position: ResumePoint) -> None:
        member.attach(connection, position)
        while (item := await member.next()) is not FELL_BEHIND:
            if item is None:
                return
            if isinstance(item, grpc.aio.AioRpcError):
                raise item
            message, cursor = item
            await connection.send(message, text=True)
            member.sent(cursor)
        feed = member.feed
        if not member.cursor:
            # Nowhere known to resume from: the client reconnects and gets
            # a fresh init.
            await connection.close(1013, "fell behind the live feed; reconnect")
            return
        resume = session_pb2.WatchSessionsRequest(session_id=feed.session_id, event_json=True)
        if feed.session_id:
            resume.after_sequence = member.cursor
        else:
            resume.after_feed_sequence = member.cursor
        log.info("bridge.feed_resumed", session_id=feed.session_id, cursor=member.cursor)
        call = self._sessions.WatchSessions(resume, metadata=feed.metadata)
        try:
            await call.read()  # its init: the client has had one
            await self._forward_feed(connection, call, position)
        finally:
            call.cancel()

    async def _forward_task_updates(self, connection: ServerConnection, call) -> None:
        """`task_update` messages; never ends the socket on its own (the
        session feed and the client decide that)."""
        if call is not None:
            try:
                while (update := await call.read()) is not grpc.aio.EOF:
                    await connection.send(
                        dumps(
                            {
                                "type": "task_update",
                                "data": {
                                    "task_id": update.task_id,
                                    "status": update.status,
                                    "execution_time": update.execution_time,
                                    "operation": update.operation,
                                    "device_used": update.device_used,
                                    "error": update.error,
                                    "timestamp": iso(update.timestamp.ToDatetime(tzinfo=dt.timezone.utc)),
                                },
                            }
                        )
                    )
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.CANCELLED:
                    log.warning("bridge.task_watch_ended", code=error.code().name)
        await asyncio.Event().wait()

    async def _send_heartbeats(self) -> None:
        """The `heartbeat` of every /ws feed client: one GetHealth call and
        one message per period, however many clients there are."""
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            if not self._feed_connections:
                continue
            try:
                health = await self._compute.GetHealth(compute_pb2.GetHealthRequest())
            except grpc.aio.AioRpcError as error:
                log.warning("bridge.heartbeat_failed", code=error.code().name)
                continue
            metrics = health.metrics
            # Written at once to every open socket (no waiting on slow ones:
            # a heartbeat is tiny, and the next one follows anyway).
            broadcast(
                self._feed_connections,
                dumps(
                    {
                        "type": "heartbeat",
                        "timestamp": iso(utc_now()),
                        "metrics": {
                            "gpu_utilization": metrics.gpu_utilization,
                            "memory_usage": metrics.memory_usage,
                            "active_tasks": metrics.active_tasks,
                        },
                    }
                ),
            )

    async def _drain_client(self, connection: ServerConnection) -> None:
        # The feed takes no client messages; reading notices a closed socket.
        with contextlib.suppress(Exception):
            async for _ in connection:
                pass
