#!/usr/bin/env python3
"""Soak: mixed load on a running agent-runtime for a while (default 10
minutes), sampling the server's and Envoy's memory (RSS) and open file
descriptors, then judging the trend: the slope over the second half of the
run, when caches have warmed up.

Load (bounded, loopback only): REST session creation, event posts and reads
through Envoy, WebSocket subscribers that come and go, and AppendEvents
bursts over gRPC.

    .venv/bin/python bench/soak.py [--minutes 10] [--write bench/SOAK.md]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "gen"), str(ROOT / "bench")]

import grpc  # noqa: E402
import httpx  # noqa: E402
import websockets  # noqa: E402

from agentruntime.v1 import session_pb2 as pb  # noqa: E402
from agentruntime.v1 import session_pb2_grpc  # noqa: E402
from run import API_KEY, EVENT, METADATA, SERVER_ENV, free_port, machine, process  # noqa: E402


LIVE_SESSIONS = 50


def children(pid: int) -> list[int]:
    found = []
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


def sample(pid: int) -> tuple[float, int]:
    """RSS in MiB and open descriptors of one process."""
    rss_kib = next(int(line.split()[1]) for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS"))
    return rss_kib / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    variance = sum((t - mean_t) ** 2 for t, _ in points)
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / variance if variance else 0.0


async def rest_load(base: str, stop: float, counter: dict) -> None:
    async with httpx.AsyncClient(base_url=base, headers={"x-api-key": API_KEY}, timeout=30) as client:
        for index in itertools.count():
            if time.monotonic() > stop:
                return
            session_id = f"soak-{index}"
            await client.post("/sessions", json={"session_id": session_id})
            for _ in range(5):
                await client.post(f"/sessions/{session_id}/events", json=EVENT)
            await client.get(f"/sessions/{session_id}")
            await client.get(f"/sessions/{session_id}/events")
            # Keep the data set bounded (the newest LIVE_SESSIONS), so that
            # memory growth means a leak rather than more data to serve.
            if index >= LIVE_SESSIONS:
                await client.delete(f"/sessions/soak-{index - LIVE_SESSIONS}")
            counter["rest"] += 8
            await asyncio.sleep(0.05)


async def ws_churn(base: str, stop: float, counter: dict) -> None:
    url = base.replace("http://", "ws://") + "/ws"
    while time.monotonic() < stop:
        try:
            socket = await websockets.connect(url, additional_headers={"x-api-key": API_KEY})
        except websockets.exceptions.InvalidStatus as refused:
            counter["ws_refused"] += 1
            print("ws refused:", refused.response.status_code, refused.response.body[:300], flush=True)
            await asyncio.sleep(1)
            continue
        async with socket:
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(socket.recv(), 0.5)
                    counter["ws_messages"] += 1
                except asyncio.TimeoutError:
                    pass
        counter["ws_connections"] += 1


async def grpc_bursts(target: str, stop: float, counter: dict) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        await stub.CreateSession(pb.CreateSessionRequest(session_id="soak-stream"), metadata=METADATA)
        while time.monotonic() < stop:
            burst = [pb.AppendEventsRequest(session_id="soak-stream", event=pb.Event(event_type="pre_tool")) for _ in range(500)]
            async for _ in stub.AppendEvents(iter(burst), metadata=METADATA):
                counter["grpc_events"] += 1
            await asyncio.sleep(1)


async def soak(base: str, target: str, pid: int, seconds: float, interval: float) -> tuple[list[dict], dict]:
    stop = time.monotonic() + seconds
    counter = {"rest": 0, "ws_messages": 0, "ws_connections": 0, "ws_refused": 0, "grpc_events": 0}
    load = [
        asyncio.create_task(rest_load(base, stop, counter)),
        *(asyncio.create_task(ws_churn(base, stop, counter)) for _ in range(3)),
        asyncio.create_task(grpc_bursts(target, stop, counter)),
    ]
    samples = []
    started = time.monotonic()
    while time.monotonic() < stop:
        envoy = next(iter(children(pid)), None)
        server_rss, server_fds = sample(pid)
        envoy_rss, envoy_fds = sample(envoy) if envoy else (0.0, 0)
        samples.append({"t": time.monotonic() - started, "server_rss": server_rss, "server_fds": server_fds, "envoy_rss": envoy_rss, "envoy_fds": envoy_fds})
        print(json.dumps({**samples[-1], **counter}), flush=True)
        await asyncio.sleep(interval)
    await asyncio.gather(*load)
    return samples, counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--interval", type=float, default=10, help="seconds between samples")
    parser.add_argument("--write", type=pathlib.Path, help="write the summary to this markdown file")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="agent-runtime-soak-"))
    http_port, grpc_port = free_port(), free_port()
    command = [
        str(pathlib.Path(sys.executable).parent / "agent-runtime"), "serve", "--http-port", str(http_port),
        "--grpc-port", str(grpc_port), "--data-dir", str(work),
    ]
    with process(command, SERVER_ENV, work / "server.log", ready="ready") as server:
        samples, counter = asyncio.run(
            soak(f"http://127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}", server.pid, args.minutes * 60, args.interval)
        )
    second_half = [s for s in samples if s["t"] >= samples[-1]["t"] / 2]
    rows = []
    for key, unit in (("server_rss", "MiB"), ("server_fds", "fds"), ("envoy_rss", "MiB"), ("envoy_fds", "fds")):
        slope = slope_per_minute([(s["t"], s[key]) for s in second_half])
        rows.append(f"| {key} | {samples[0][key]:.1f} | {samples[-1][key]:.1f} | {slope:+.3f} {unit}/min |")
    table = "\n".join(["| measure | first sample | last sample | trend over the second half |", "| --- | --- | --- | --- |", *rows])
    summary = (
        f"Machine: {machine()}. {args.minutes:g} minutes of mixed load: {counter['rest']} REST requests, "
        f"{counter['ws_connections']} WebSocket connections ({counter['ws_messages']} messages, "
        f"{counter['ws_refused']} refused), "
        f"{counter['grpc_events']} events over AppendEvents.\n\n{table}\n"
    )
    print(summary)
    if args.write:
        args.write.write_text(f"# Soak results\n\nProduced by `.venv/bin/python bench/soak.py --write {args.write}`.\n\n{summary}")


if __name__ == "__main__":
    main()
