"""Scripted LLM servers for tests: a real HTTP/1.1 server in the test process
that speaks the OpenAI chat-completions wire format or the Anthropic messages
wire format (both streamed as SSE, with tool calls), answering each request
with the next scripted reply. The real `openai` / `anthropic` SDK clients talk
to it through their base URL.

    async with FakeOpenAI([Reply(tool_calls=[Call("read_file", {"path": "a"})]),
                           Reply(text="done")]) as fake:
        ... OPENAI_BASE_URL = fake.base_url ...
        fake.requests  # the JSON bodies received, in order
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from typing import Any

_ids = itertools.count(1)


@dataclasses.dataclass
class Call:
    """A tool call the scripted model makes."""

    name: str
    arguments: dict[str, Any] | str = dataclasses.field(default_factory=dict)
    id: str = ""

    def arguments_text(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclasses.dataclass
class Reply:
    """One scripted answer: streamed text, then tool calls. `status` other
    than 200 answers with that HTTP error instead (`headers` e.g.
    retry-after). `delay` waits before answering (timeouts). `usage` is the
    (prompt, completion) token count reported: by Anthropic always, by
    OpenAI when the client asks (`stream_options.include_usage`). `hold`
    keeps the stream open after its first text piece until the event is
    set (what a client sees while the model is still talking)."""

    text: str = ""
    tool_calls: list[Call] = dataclasses.field(default_factory=list)
    status: int = 200
    error_body: dict[str, Any] | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay: float = 0.0
    usage: tuple[int, int] = (11, 7)
    hold: asyncio.Event | None = None
    # Answer 200 text/event-stream and then only SSE keep-alive comments,
    # one every `keep_alive_every` seconds, until the client goes away.
    keep_alive_forever: bool = False
    keep_alive_every: float = 0.2


class _FakeServer:
    models: list[str] = []

    def __init__(self, script: list[Reply] | None = None, models: list[str] | None = None, models_delay: float = 0.0):
        self.script: list[Reply] = list(script or [])
        # Seconds the model listing waits before answering (a hanging provider).
        self.models_delay = models_delay
        self.model_listings = 0
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        if models is not None:
            self.models = models
        self._server: asyncio.base_events.Server | None = None
        self.port = 0
        # Set when a request arrives and the script is empty: a test bug.
        self.exhausted = False
        self.arrived = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    def add(self, *replies: Reply) -> None:
        self.script.extend(replies)

    async def __aenter__(self):
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        assert self._server is not None
        self._server.close()
        # Python 3.12+ wait_closed waits for handlers; close clients first.
        for task in list(self._tasks):
            task.cancel()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self._tasks.add(asyncio.current_task())
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = b""
                if "content-length" in headers:
                    body = await reader.readexactly(int(headers["content-length"]))
                status, response_headers, payload, hold = await self._answer(method, path.split("?")[0], headers, body)
                if isinstance(payload, Reply):
                    await self._keep_alive(writer, payload.keep_alive_every)
                    return
                reason = {200: "OK", 404: "Not Found"}.get(status, "Error")
                header_lines = "".join(f"{k}: {v}\r\n" for k, v in response_headers.items())
                if hold is None:
                    writer.write(
                        f"HTTP/1.1 {status} {reason}\r\n{header_lines}Content-Length: {len(payload)}\r\n\r\n".encode()
                        + payload
                    )
                else:
                    await self._write_held(writer, f"HTTP/1.1 {status} {reason}\r\n{header_lines}", payload, hold)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(asyncio.current_task())
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    async def _write_held(writer: asyncio.StreamWriter, head: str, payload: bytes, hold: asyncio.Event) -> None:
        """Sends the SSE answer chunked: up to its first text piece (the
        second event), then the rest once `hold` is set."""
        events = payload.split(b"\n\n")
        split = len(b"\n\n".join(events[:2])) + 2

        def chunk(part: bytes) -> bytes:
            return f"{len(part):x}\r\n".encode() + part + b"\r\n"

        writer.write(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + chunk(payload[:split]))
        await writer.drain()
        await hold.wait()
        writer.write(chunk(payload[split:]) + b"0\r\n\r\n")

    async def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes):
        """(status, headers, payload, the hold to send it with or None)."""
        if method == "GET" and path.endswith("/models"):
            self.model_listings += 1
            await asyncio.sleep(self.models_delay)
            return 200, {"Content-Type": "application/json"}, json.dumps(self._models_body()).encode(), None
        if method != "POST" or not path.endswith(self.completion_path):
            return 404, {"Content-Type": "application/json"}, b'{"error": {"message": "no such path"}}', None
        self.requests.append(json.loads(body))
        self.paths.append(path)
        self.headers.append(headers)
        self.arrived.set()
        if not self.script:
            self.exhausted = True
            return 500, {"Content-Type": "application/json"}, b'{"error": {"message": "script exhausted"}}', None
        reply = self.script.pop(0)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.keep_alive_forever:
            return 200, {}, reply, None
        if reply.status != 200:
            error = reply.error_body or {"error": {"message": f"scripted HTTP {reply.status}", "type": "server_error"}}
            return reply.status, {"Content-Type": "application/json", **reply.headers}, json.dumps(error).encode(), None
        model = self.requests[-1].get("model", "model")
        return 200, {"Content-Type": "text/event-stream"}, self._sse(model, reply, self.requests[-1]).encode(), reply.hold

    @staticmethod
    async def _keep_alive(writer: asyncio.StreamWriter, every: float) -> None:
        """A stream that is alive and says nothing: the headers, then an SSE
        comment per period (a chunk of HTTP/1.1 chunked encoding)."""
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        comment = b": keep-alive\n\n"
        while True:
            writer.write(b"%x\r\n%s\r\n" % (len(comment), comment))
            await writer.drain()
            await asyncio.sleep(every)

    completion_path = ""

    def _models_body(self) -> dict[str, Any]:
        raise NotImplementedError

    def _sse(self, model: str, reply: Reply, request: dict[str, Any]) -> str:
        raise NotImplementedError


def _chunks(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


class FakeOpenAI(_FakeServer):
    """OpenAI chat completions: POST {base}/chat/completions (SSE chunks with
    `delta.content` and `delta.tool_calls[index]`), GET {base}/models."""

    models = ["gpt-4o", "gpt-4o-mini", "local-coder"]
    completion_path = "/chat/completions"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _models_body(self):
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "test"} for m in self.models]}

    def _sse(self, model: str, reply: Reply, request: dict[str, Any]) -> str:
        completion_id = f"chatcmpl-{next(_ids)}"

        def chunk(delta: dict, finish: str | None = None) -> str:
            body = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(body)}\n\n"

        out = [chunk({"role": "assistant", "content": ""})]
        out += [chunk({"content": piece}) for piece in _chunks(reply.text)]
        for index, call in enumerate(reply.tool_calls):
            call_id = call.id or f"call_{next(_ids)}"
            args = call.arguments_text()
            out.append(
                chunk(
                    {
                        "tool_calls": [
                            {"index": index, "id": call_id, "type": "function", "function": {"name": call.name, "arguments": ""}}
                        ]
                    }
                )
            )
            for piece in _chunks(args, 11):
                out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
        out.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
        if (request.get("stream_options") or {}).get("include_usage"):
            prompt, completion = reply.usage
            usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
            body = {"id": completion_id, "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [], "usage": usage}
            out.append(f"data: {json.dumps(body)}\n\n")
        out.append("data: [DONE]\n\n")
        return "".join(out)


class FakeAnthropic(_FakeServer):
    """Anthropic messages: POST {base}/v1/messages (SSE message_start,
    content_block_*, message_delta, message_stop), GET {base}/v1/models."""

    models = ["claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022"]
    completion_path = "/v1/messages"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _models_body(self):
        return {
            "data": [
                {"id": m, "type": "model", "display_name": m, "created_at": "2024-10-22T00:00:00Z"} for m in self.models
            ],
            "has_more": False,
            "first_id": self.models[0] if self.models else None,
            "last_id": self.models[-1] if self.models else None,
        }

    def _sse(self, model: str, reply: Reply, request: dict[str, Any]) -> str:
        def event(kind: str, body: dict) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **body})}\n\n"

        message_id = f"msg_{next(_ids)}"
        out = [
            event(
                "message_start",
                {
                    "message": {
                        "id": message_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": reply.usage[0], "output_tokens": 1},
                    }
                },
            )
        ]
        index = 0
        if reply.text:
            out.append(event("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}))
            for piece in _chunks(reply.text):
                out.append(event("content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": piece}}))
            out.append(event("content_block_stop", {"index": index}))
            index += 1
        for call in reply.tool_calls:
            call_id = call.id or f"toolu_{next(_ids)}"
            out.append(
                event(
                    "content_block_start",
                    {"index": index, "content_block": {"type": "tool_use", "id": call_id, "name": call.name, "input": {}}},
                )
            )
            for piece in _chunks(call.arguments_text(), 11):
                out.append(
                    event("content_block_delta", {"index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})
                )
            out.append(event("content_block_stop", {"index": index}))
            index += 1
        stop = "tool_use" if reply.tool_calls else "end_turn"
        out.append(event("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": reply.usage[1]}}))
        out.append(event("message_stop", {}))
        return "".join(out)
