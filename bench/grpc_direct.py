#!/usr/bin/env python3
"""Server CPU per native gRPC `GetSession`, without Envoy: our server
(`agent-runtime serve --no-envoy`, SQLite, the session read from storage,
every interceptor) against the bare grpc.aio servicer of
bench/peers/bare_grpc.py (answers from memory, no interceptor), started side
by side and measured alternately in the same run. What ours costs above the
bare one is our whole server path (interceptors, auth, access log, storage,
conversion) plus what grpc.aio spends on it; Envoy is left out (see
bench/rest_profile.py for the path through it).

    .venv/bin/python bench/grpc_direct.py [--calls 6000] [--concurrency 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import statistics
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "gen")]

import grpc  # noqa: E402

from agentruntime.v1 import session_pb2 as pb  # noqa: E402
from agentruntime.v1 import session_pb2_grpc  # noqa: E402
from run import API_KEY, SERVER_ENV, cpu_seconds, free_port, process  # noqa: E402

METADATA = (("x-api-key", API_KEY),)


async def cpu_per_call(target: str, pid: int, calls: int, concurrency: int) -> float:
    """Server CPU µs per GetSession of session `bench`, after a warm-up."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        request = pb.GetSessionRequest(session_id="bench")

        async def caller(count: int) -> None:
            for _ in range(count):
                await stub.GetSession(request, metadata=METADATA)

        await caller(300)
        before = cpu_seconds([pid])
        await asyncio.gather(*(caller(calls // concurrency) for _ in range(concurrency)))
        return (cpu_seconds([pid]) - before) / (calls // concurrency * concurrency) * 1e6


async def create_session(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        await stub.CreateSession(pb.CreateSessionRequest(session_id="bench", session_name="bench"), metadata=METADATA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=6000, help="calls per measurement (default 6000)")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="agent-runtime-bench-grpc-"))
    bare_port, our_port = free_port(), free_port()
    agent_runtime = str(pathlib.Path(sys.executable).parent / "agent-runtime")
    ours_command = [agent_runtime, "serve", "--no-envoy", "--grpc-port", str(our_port), "--data-dir", str(work / "data")]
    with (
        process([sys.executable, str(ROOT / "bench/peers/bare_grpc.py"), str(bare_port)], {}, work / "bare.log", ready="ready") as bare,
        process(ours_command, {**SERVER_ENV, "COMPUTE_PROBE": "false"}, work / "ours.log", ready="ready") as ours,
    ):
        asyncio.run(create_session(f"127.0.0.1:{our_port}"))
        measured: dict[str, list[float]] = {"bare": [], "ours": []}
        for _ in range(args.rounds):
            measured["bare"].append(asyncio.run(cpu_per_call(f"127.0.0.1:{bare_port}", bare.pid, args.calls, args.concurrency)))
            measured["ours"].append(asyncio.run(cpu_per_call(f"127.0.0.1:{our_port}", ours.pid, args.calls, args.concurrency)))
    bare_us, ours_us = statistics.median(measured["bare"]), statistics.median(measured["ours"])
    print("| server | CPU µs per GetSession (median; rounds) |")
    print("| --- | --- |")
    for name, values in measured.items():
        print(f"| {name} | {statistics.median(values):.0f} ({', '.join(f'{v:.0f}' for v in values)}) |")
    print(f"\nours above bare: {ours_us - bare_us:.0f} µs per call ({ours_us / bare_us:.2f}x)")


if __name__ == "__main__":
    main()
