#!/usr/bin/env python3
"""Cost of each credential kind on a trivial RPC, as a ratio to the same RPC
without credentials, measured in one run on one server (gRPC direct, no
Envoy). GetServiceInfo is open, but a credential sent to it is still checked
(its rate-limit bucket), so the difference is the credential check alone.

    .venv/bin/python bench/auth_overhead.py [seconds-per-kind]

Kinds are measured in interleaved rounds and the median is reported, since
the load on a shared machine drifts.
"""

from __future__ import annotations

import asyncio
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "gen")]

import logging  # noqa: E402

import grpc  # noqa: E402
import structlog  # noqa: E402

from agentruntime.v1 import compute_pb2, compute_pb2_grpc  # noqa: E402
from agent_runtime.config import Settings  # noqa: E402
from agent_runtime.server import start_runtime  # noqa: E402

CONCURRENCY = 8
ROUNDS = 7


async def measure(stub, metadata, seconds: float) -> float:
    stop = time.perf_counter() + seconds
    count = 0

    async def worker():
        nonlocal count
        while time.perf_counter() < stop:
            await stub.GetServiceInfo(compute_pb2.GetServiceInfoRequest(), metadata=metadata)
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return count / (time.perf_counter() - started)


async def main(seconds: float) -> None:
    # The per-call access log would dominate what is measured.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings().replace(
            data_dir=pathlib.Path(data_dir),
            server={"grpc_port": 0, "run_envoy": False},
            auth={"api_key": "bench-key", "internal_auth_token": "bench-internal"},
            rate_limits={"unauthenticated": 0, "authenticated": 0, "admin": 0},
        )
        runtime = await start_runtime(settings)
        try:
            user = await runtime.identity.register("bench@example.com", "bench password")
            token = (await runtime.identity.login(user.email, "bench password")).token
            key = (await runtime.identity.create_api_key("bench", None, user.user_id)).key
            kinds = {
                "none (baseline)": (),
                "configured X-API-Key": (("x-api-key", "bench-key"),),
                "x-internal-auth": (("x-internal-auth", "bench-internal"),),
                "Bearer JWT": (("authorization", f"Bearer {token}"),),
                "issued md_ key": (("x-api-key", key),),
            }
            async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
                stub = compute_pb2_grpc.ComputeServiceStub(channel)
                await measure(stub, (), 0.5)  # warm up
                # Interleaved rounds, median per kind: the machine's load
                # drifts, so kinds are measured side by side.
                rounds: dict[str, list[float]] = {kind: [] for kind in kinds}
                for _ in range(ROUNDS):
                    for kind, metadata in kinds.items():
                        rounds[kind].append(await measure(stub, metadata, seconds / ROUNDS))
                results = {kind: statistics.median(rates) for kind, rates in rounds.items()}
        finally:
            await runtime.stop()
    baseline = results["none (baseline)"]
    print(f"{'credential':<24}{'calls/s':>10}{'ratio':>8}")
    for kind, rate in results.items():
        print(f"{kind:<24}{rate:>10.0f}{rate / baseline:>8.2f}")


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0))
