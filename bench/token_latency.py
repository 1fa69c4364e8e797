#!/usr/bin/env python3
"""How late a streamed model token reaches a client, against reading the
model directly, in one run.

A paced model server in this process speaks OpenAI's streamed chat format and
sends one token every --interval ms, noting when it wrote each. The baseline
reads it with the official `openai` client; then `agent-runtime serve` (a
child process, its own data dir, the model server as OPENAI_BASE_URL) runs
codelab messages whose answers a plain SSE client reads through Envoy. A
token's added latency is when the client got it minus when the model server
wrote it; the goal is about the difference between the two paths.

    .venv/bin/python bench/token_latency.py [--tokens 100] [--interval 20] [--runs 5] [--write bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import re
import sys
import tempfile
import time

import httpx
import openai

from run import free_port, machine, percentile, process, wait_for

API_KEY = "bench-key"
TOKEN = re.compile(r"w(\d+) ")
MODEL = "paced"
SECTION = "## Token latency"


class PacedModel:
    """POST /v1/chat/completions answers with `tokens` SSE chunks, one
    every `interval` seconds; `sent[(answer, index)]` is when each was
    written. Every answer is plain text, so a run ends after it."""

    def __init__(self, tokens: int, interval: float):
        self.tokens, self.interval = tokens, interval
        self.sent: dict[tuple[int, int], float] = {}
        self.answers = 0
        self.port = 0
        self._connections: set[asyncio.Task] = set()

    async def __aenter__(self) -> "PacedModel":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        for connection in self._connections:
            connection.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(asyncio.current_task())
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                length = re.search(r"(?i)content-length:\s*(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                if not head.startswith("POST"):
                    body = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "bench"}]})
                    writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
                    continue
                answer, self.answers = self.answers, self.answers + 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
                for index in range(self.tokens):
                    await asyncio.sleep(self.interval)
                    self._chunk(writer, {"content": f"w{index} "}, None)
                    await writer.drain()
                    self.sent[(answer, index)] = time.perf_counter()
                self._chunk(writer, {}, "stop")
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(asyncio.current_task())
            writer.close()

    @staticmethod
    def _chunk(writer: asyncio.StreamWriter, delta: dict, finish: str | None) -> None:
        body = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        event = f"data: {json.dumps(body)}\n\n".encode()
        writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")


def added_ms(model: PacedModel, answer: int, arrivals: list[tuple[str, float]]) -> list[float]:
    """Per token: milliseconds from the model writing it to the client having it."""
    delays = []
    for text, arrived in arrivals:
        for index in TOKEN.findall(text):
            delays.append((arrived - model.sent[(answer, int(index))]) * 1000)
    return delays


async def direct(model: PacedModel) -> list[float]:
    client = openai.AsyncOpenAI(base_url=model.base_url, api_key="bench", max_retries=0)
    answer = model.answers
    arrivals = []
    stream = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "go"}], stream=True)
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append((chunk.choices[0].delta.content, time.perf_counter()))
    await client.close()
    return added_ms(model, answer, arrivals)


async def through_runtime(model: PacedModel, http: httpx.AsyncClient, project: pathlib.Path) -> tuple[list[float], int]:
    """Added latency per token for one codelab message read over SSE
    through Envoy, and how many SSE events carried the tokens."""
    created = await http.post("/api/v1/sessions", json={"user_id": "bench", "metadata": {"project_path": str(project)}})
    created.raise_for_status()
    answer = model.answers
    body = {"session_id": created.json()["session_id"], "message": {"type": "user_message", "content": "go"}}
    arrivals = []
    async with http.stream("POST", "/agent/message/stream", json=body, timeout=120) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                event = json.loads(line[len("data: ") :])
                if event["type"] == "assistant_message" and event["token"]:
                    arrivals.append((event["token"], time.perf_counter()))
    return added_ms(model, answer, arrivals), len(arrivals)


def summary(delays: list[float]) -> str:
    return f"p50 {percentile(delays, 0.5):.1f} / p99 {percentile(delays, 0.99):.1f} / max {max(delays):.1f}"


async def measure(args: argparse.Namespace, work: pathlib.Path) -> list[str]:
    async with PacedModel(args.tokens, args.interval / 1000) as model:
        http_port = free_port()
        command = [
            str(pathlib.Path(sys.executable).parent / "agent-runtime"), "serve", "--http-port", str(http_port),
            "--grpc-port", str(free_port()), "--data-dir", str(work / "runtime"),
        ]
        env = {"AGENT_API_KEY": API_KEY, "RATE_LIMIT_ADMIN": "0", "OPENAI_BASE_URL": model.base_url,
               "OPENAI_API_KEY": "bench", "DEFAULT_MODEL": MODEL}
        project = work / "project"
        project.mkdir()
        with process(command, env, work / "runtime.log"):
            await asyncio.to_thread(wait_for, f"http://127.0.0.1:{http_port}/health", 60)
            ours, theirs, events = [], [], 0
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", headers={"x-api-key": API_KEY}) as http:
                for _ in range(args.runs):
                    theirs += await direct(model)
                    delays, sent = await through_runtime(model, http, project)
                    ours += delays
                    events += sent
    over = percentile(ours, 0.99) - percentile(theirs, 0.99)
    return [
        f"{SECTION}\n",
        f"`bench/token_latency.py --tokens {args.tokens} --interval {args.interval} --runs {args.runs}` on {machine()}, "
        f"{time.strftime('%Y-%m-%d')}. A model that sends a token every {args.interval} ms; milliseconds from the model "
        "writing a token to the client having it.\n",
        "| path | tokens | added latency (ms) |",
        "| --- | --- | --- |",
        f"| `openai` client reading the model directly (baseline) | {len(theirs)} | {summary(theirs)} |",
        f"| codelab SSE through Envoy (`/agent/message/stream`) | {len(ours)} in {events} events | {summary(ours)} |",
        "",
        f"Added over the baseline at p99: **{over:.1f} ms** (goal ≤ 10 ms).\n",
    ]


def write_section(path: pathlib.Path, lines: list[str]) -> None:
    """Replaces this bench's section where it stands, else appends it."""
    text = path.read_text() if path.exists() else ""
    section = "\n".join(lines) + "\n"
    start = text.find(SECTION + "\n")
    if start < 0:
        path.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    following = text.find("\n## ", start + len(SECTION))
    path.write_text(text[:start] + section + (text[following:] if following >= 0 else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=100, help="tokens per answer (default 100)")
    parser.add_argument("--interval", type=float, default=20, help="milliseconds between tokens (default 20)")
    parser.add_argument("--runs", type=int, default=5, help="answers per path (default 5)")
    parser.add_argument("--write", type=pathlib.Path, help="replace the token latency section of this markdown file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tokens-") as work:
        lines = asyncio.run(measure(args, pathlib.Path(work)))
    print("\n".join(lines))
    if args.write:
        write_section(args.write, lines)


if __name__ == "__main__":
    main()
