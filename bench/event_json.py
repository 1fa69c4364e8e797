#!/usr/bin/env python3
"""What reading and printing event JSON in the server (the REST twins that
keep a client's key order) costs, against a baseline tree in the same run.

Starts this tree's server and the baseline's (a checkout of another commit:
`git worktree add DIR COMMIT`) side by side, then measures each in turn,
alternating for --rounds rounds (medians reported, ratios ours/baseline):
REST event ingest (POST /sessions/{id}/events), REST reads of a session's
events (GET /sessions/{id}/events, 100 events) and gRPC CreateEvent (whose
Structs are now stored with sorted keys): requests/s from one asyncio client
and the CPU µs per request of the server and its Envoy, which a shared,
noisy machine distorts less than requests/s. With --subscribers N, also
bench/run.py's /ws fan-out to N clients (the bridge now prints the server's
event JSON), on a fresh server of each tree per round.

    .venv/bin/python bench/event_json.py --baseline /tmp/base [--rounds 3] [--duration 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import pathlib
import statistics
import tempfile
import time

import grpc
import httpx
from google.protobuf import json_format

from run import API_KEY, METADATA, cpu_per_request, measure_fan_out, runtime_server, with_descendants
from agentruntime.v1 import session_pb2 as pb
from agentruntime.v1 import session_pb2_grpc

# bench/run.py's event, and one with the nesting and size of a real tool call.
SMALL = {"event_type": "pre_tool", "tool_name": "Bash", "tool_input": {"command": "ls -la", "timeout": 30}}
LARGE = {
    "event_type": "post_tool",
    "tool_name": "Edit",
    "tool_input": {"file_path": "/work/src/app.py", "old_string": "x = 1\n" * 20, "new_string": "x = 2\n" * 20, "replace_all": False},
    "tool_output": {"success": True, "diff": {"added": 20, "removed": 20, "hunks": [{"start": i, "lines": 3} for i in range(10)]}},
    "exit_code": 0,
    "payload": {"cwd": "/work", "env": {f"VAR_{i}": str(i) for i in range(10)}},
}
READ_EVENTS = 100


async def rest_load(base: str, method: str, path: str, body: dict | None, duration: float, concurrency: int) -> dict:
    done = 0
    deadline = time.monotonic() + duration
    async with httpx.AsyncClient(base_url=base, headers={"x-api-key": API_KEY}, timeout=30) as client:

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                response = await client.request(method, path, json=body)
                if response.status_code != 200:
                    raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return {"requests": done, "rps": done / (time.monotonic() - started)}


async def grpc_load(target: str, event: dict, duration: float, concurrency: int) -> dict:
    done = 0
    deadline = time.monotonic() + duration
    message = json_format.ParseDict(event, pb.Event())
    async with grpc.aio.insecure_channel(target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                await stub.CreateEvent(pb.CreateEventRequest(session_id="grpc", event=message), metadata=METADATA)
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return {"requests": done, "rps": done / (time.monotonic() - started)}


def seed(base: str) -> None:
    with httpx.Client(base_url=base, headers={"x-api-key": API_KEY}) as client:
        for session_id in ("ingest", "read", "grpc"):
            assert client.post("/sessions", json={"session_id": session_id}).status_code == 200
        for index in range(READ_EVENTS):
            assert client.post("/sessions/read/events", json=LARGE if index % 2 else SMALL).status_code == 200


def phases(args) -> list[tuple[str, callable]]:
    return [
        ("REST POST /sessions/{id}/events, small event", lambda http, target: rest_load(http, "POST", "/sessions/ingest/events", SMALL, args.duration, args.concurrency)),
        ("REST POST /sessions/{id}/events, large event", lambda http, target: rest_load(http, "POST", "/sessions/ingest/events", LARGE, args.duration, args.concurrency)),
        (f"REST GET /sessions/{{id}}/events ({READ_EVENTS} events)", lambda http, target: rest_load(http, "GET", "/sessions/read/events", None, args.duration, args.concurrency)),
        ("gRPC CreateEvent, large event", lambda http, target: grpc_load(target, LARGE, args.duration, args.concurrency)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=pathlib.Path, required=True, help="checkout of the commit to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--subscribers", type=int, default=0, help="/ws fan-out clients (0: no fan-out phase)")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="event-json-bench-"))
    results: dict[tuple[str, str], list[dict]] = {}
    with contextlib.ExitStack() as stack:
        servers = {
            "ours": stack.enter_context(runtime_server(None, work, "ours")),
            "baseline": stack.enter_context(runtime_server(args.baseline.resolve(), work, "baseline")),
        }
        for http, _, _ in servers.values():
            seed(http)
        for round_number in range(args.rounds):
            order = ("ours", "baseline") if round_number % 2 == 0 else ("baseline", "ours")
            for label, load in phases(args):
                for name in order:
                    http, target, process = servers[name]
                    result: dict = {}
                    with cpu_per_request(with_descendants(process.pid), result):
                        result.update(asyncio.run(load(http, target)))
                    results.setdefault((label, name), []).append(result)
    fan_out: dict[str, list[dict]] = {"ours": [], "baseline": []}
    for round_number in range(args.rounds if args.subscribers else 0):
        for name in ("ours", "baseline") if round_number % 2 == 0 else ("baseline", "ours"):
            source = None if name == "ours" else args.baseline.resolve()
            with runtime_server(source, work, f"{name}-fan-out-{round_number}") as (http, target, process):
                fan_out[name].append(measure_fan_out(http, target, args.subscribers, process.pid))
    print(f"| {args.rounds} rounds of {args.duration:.0f} s, {args.concurrency} concurrent | ours | baseline | ours / baseline |")
    print("| --- | --- | --- | --- |")
    for label, _ in phases(args):
        ours = {key: statistics.median(r[key] for r in results[(label, "ours")]) for key in ("rps", "cpu_us")}
        base = {key: statistics.median(r[key] for r in results[(label, "baseline")]) for key in ("rps", "cpu_us")}
        print(f"| {label}: requests/s | {ours['rps']:.0f} | {base['rps']:.0f} | {ours['rps'] / base['rps']:.2f}x |")
        print(f"| {label}: CPU µs per request (server + Envoy) | {ours['cpu_us']:.0f} | {base['cpu_us']:.0f} | {ours['cpu_us'] / base['cpu_us']:.2f}x |")
    if args.subscribers:
        ours, base = ({key: statistics.median(r[key] for r in runs) for key in ("p50", "p99", "server_ms")} for runs in fan_out.values())
        label = f"/ws fan-out to {args.subscribers} subscribers"
        print(f"| {label}: p50 / p99 ms | {ours['p50']:.1f} / {ours['p99']:.1f} | {base['p50']:.1f} / {base['p99']:.1f} | p99 {ours['p99'] / base['p99']:.2f}x |")
        print(f"| {label}: server CPU ms per event | {ours['server_ms']:.2f} | {base['server_ms']:.2f} | {ours['server_ms'] / base['server_ms']:.2f}x |")


if __name__ == "__main__":
    main()
