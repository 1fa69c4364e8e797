"""`/ws/tasks/{task_id}`: one task's run events (mini-devin), resumable with
`?after_sequence=N`, served from AgentService.WatchAgentTask; the client's
messages `stop` and `input` become StopAgentTask and SendTaskInput calls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
from typing import Any

import grpc
import structlog
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from agentruntime.v1 import agent_pb2, agent_pb2_grpc
from agent_runtime.agents.run_events import RUN_EVENT_TYPES
from agent_runtime.clock import iso, utc_now
from agent_runtime.gateway.resume import ResumePoint
from agent_runtime.gateway.upgrade import GRPC_TO_HTTP, credentials_metadata, error_response, int_param, rpc_error_response
from agent_runtime.jsonfmt import dumps, message_to_dict

log = structlog.get_logger(__name__)

# Fields of each task event type on /ws/tasks/{id}, besides type, sequence,
# task_id and timestamp (the mini-devin document's messages).
TASK_EVENT_FIELDS = {cls.TYPE: cls.DOCUMENTED for cls in RUN_EVENT_TYPES.values()}
TASK_PATH_PREFIX = "/ws/tasks/"


def task_event_message(event: agent_pb2.TaskEvent) -> dict[str, Any]:
    """The documented JSON of one task event."""
    data = message_to_dict(event)
    fields = ("type", "sequence", "task_id", "timestamp", *TASK_EVENT_FIELDS.get(event.type, ()))
    return {name: data[name] for name in fields if name in data}


def _error_message(error: str, code: str) -> str:
    return dumps({"type": "error", "error": error, "code": code, "timestamp": iso(utc_now())})


class TaskStream:
    """One accepted task socket: the watch call opened in the handshake,
    the credentials it was opened with, and where the client would resume."""

    def __init__(self, call, task_id: str, metadata: tuple[tuple[str, str], ...], after: int):
        self.call = call
        self.task_id = task_id
        self.metadata = metadata
        self.position = ResumePoint("after_sequence", after)


class TaskSockets:
    def __init__(self, agents: agent_pb2_grpc.AgentServiceStub):
        self._agents = agents
        # Open task sockets and where each would resume (for the drain).
        self.connections: dict[ServerConnection, ResumePoint] = {}

    async def open(self, request: Request, url: urllib.parse.SplitResult) -> Response | TaskStream:
        """Checks the credentials and that the task exists, and starts its
        watch, before the WebSocket is accepted: a refusal is an HTTP error."""
        task_id = urllib.parse.unquote(url.path[len(TASK_PATH_PREFIX) :].rstrip("/"))
        if not task_id or "/" in task_id:
            return error_response(404, f"No WebSocket endpoint at {url.path}", "NOT_FOUND")
        try:
            after = int_param(urllib.parse.parse_qs(url.query), "after_sequence") or 0
        except ValueError as error:
            return error_response(400, str(error), "BAD_REQUEST")
        metadata = credentials_metadata(request)
        try:
            await self._agents.GetAgentTask(agent_pb2.GetAgentTaskRequest(task_id=task_id), metadata=metadata)
        except grpc.aio.AioRpcError as error:
            return rpc_error_response(error)
        call = self._agents.WatchAgentTask(
            agent_pb2.WatchAgentTaskRequest(task_id=task_id, after_sequence=after), metadata=metadata
        )
        return TaskStream(call, task_id, metadata, after)

    async def serve(self, connection: ServerConnection, stream: TaskStream) -> None:
        reader = asyncio.create_task(self._commands(connection, stream))
        forwarder = asyncio.create_task(self._forward(connection, stream))
        self.connections[connection] = stream.position
        try:
            # Ends when the task's stream ends or the client goes away.
            done, _ = await asyncio.wait((reader, forwarder), return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                if not finished.cancelled() and finished.exception() is not None:
                    raise finished.exception()
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("bridge.task_stream_failed", task_id=stream.task_id)
            with contextlib.suppress(ConnectionClosed):
                await connection.close(1011, "internal error")
        finally:
            self.connections.pop(connection, None)
            reader.cancel()
            forwarder.cancel()
            stream.call.cancel()

    async def _forward(self, connection: ServerConnection, stream: TaskStream) -> None:
        await connection.send(dumps({"type": "connected", "task_id": stream.task_id, "timestamp": iso(utc_now())}))
        try:
            async for event in stream.call:
                await connection.send(dumps(task_event_message(event)))
                stream.position.cursor = event.sequence
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.CANCELLED:
                return
            await connection.send(_error_message(error.details(), error.code().name))
            await connection.close(1011, "stream ended")
            return
        await connection.close(1000, "task ended")

    async def _commands(self, connection: ServerConnection, stream: TaskStream) -> None:
        """Client messages: {"type": "stop"} and {"type": "input", "content"}."""
        task_id, metadata = stream.task_id, stream.metadata
        async for raw in connection:
            try:
                message = json.loads(raw)
                kind = message.get("type") if isinstance(message, dict) else None
                if kind == "stop":
                    await self._agents.StopAgentTask(agent_pb2.StopAgentTaskRequest(task_id=task_id), metadata=metadata)
                elif kind == "input":
                    content = message.get("content")
                    if not isinstance(content, str):
                        raise ValueError("an input message needs a string content")
                    await self._agents.SendTaskInput(
                        agent_pb2.SendTaskInputRequest(task_id=task_id, content=content), metadata=metadata
                    )
                else:
                    raise ValueError("message type must be stop or input")
            except (ValueError, json.JSONDecodeError) as error:
                await connection.send(_error_message(str(error), "BAD_REQUEST"))
            except grpc.aio.AioRpcError as error:
                _, code = GRPC_TO_HTTP.get(error.code(), (500, "INTERNAL_ERROR"))
                await connection.send(_error_message(error.details(), code))
