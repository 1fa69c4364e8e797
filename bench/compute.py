#!/usr/bin/env python3
"""Compute service benchmark: what the service reports through Envoy against
plain NumPy and plain MLX loops measured in the same run, as ratios.

Starts `agent-runtime serve` as a child process (its own data dir and ports),
waits for the start-up probe, then measures:

- matrix_multiply 256…4096: service-reported GFLOP/s (device_preference
  auto) vs a plain `np.matmul` / `mx.matmul` loop; ratio to the best raw one.
- vector_operations and memory_bandwidth: service GFLOP/s and GB/s vs plain
  NumPy (`np.add`/`np.multiply`/`np.dot`, `np.copyto`).
- per-task overhead through Envoy: request wall time minus the task's
  reported execution time, for a tiny task; GET /health latency beside it.
- load: 1000 tasks submitted without waiting (accepted vs refused with 429)
  while GET /health is timed (p50/p99).

Service and raw runs alternate; each figure is the best of `--repeats` runs. Default run stays
around two minutes on 2 cores (`--quick` for a short check, `--full` adds the
MLX baseline at 4096, which takes minutes on CPU-only MLX).

    .venv/bin/python bench/compute.py [--quick] [--full] [--repeats N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
API_KEY = "bench-key"

try:
    import mlx.core as mx
except Exception:  # noqa: BLE001 - the MLX column is then "n/a"
    mx = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- plain baselines (no service code) ---------------------------------------


def raw_numpy_matmul(n: int, iterations: int) -> float:
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=c)  # warm-up
    started = time.perf_counter()
    for _ in range(iterations):
        np.matmul(a, b, out=c)
    return 2.0 * n**3 * iterations / (time.perf_counter() - started) / 1e9


def raw_mlx_matmul(n: int, iterations: int) -> float:
    a = mx.random.uniform(shape=(n, n))
    b = mx.random.uniform(shape=(n, n))
    mx.eval(a, b)
    mx.eval(a @ b)  # warm-up
    started = time.perf_counter()
    for _ in range(iterations):
        mx.eval(a @ b)
    return 2.0 * n**3 * iterations / (time.perf_counter() - started) / 1e9


def raw_numpy_vector(n: int, iterations: int) -> float:
    rng = np.random.default_rng(0)
    a, b = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    c = np.empty(n, dtype=np.float32)
    np.add(a, b, out=c)
    elapsed = 0.0
    for step in (lambda: np.add(a, b, out=c), lambda: np.multiply(a, b, out=c), lambda: np.dot(a, b)):
        started = time.perf_counter()
        for _ in range(iterations):
            step()
        elapsed += time.perf_counter() - started
    return 4.0 * n * iterations / elapsed / 1e9  # add n + multiply n + dot 2n flops


def raw_mlx_vector(n: int, iterations: int) -> float:
    a, b = mx.random.uniform(shape=(n,)), mx.random.uniform(shape=(n,))
    mx.eval(a, b)
    elapsed = 0.0
    for step in (lambda: a + b, lambda: a * b, lambda: mx.inner(a, b)):
        mx.eval(step())
        started = time.perf_counter()
        for _ in range(iterations):
            mx.eval(step())
        elapsed += time.perf_counter() - started
    return 4.0 * n * iterations / elapsed / 1e9


def raw_numpy_copy(size_mb: int, iterations: int) -> float:
    src = np.ones(size_mb * 1024 * 1024 // 8)
    dst = np.zeros_like(src)
    np.copyto(dst, src)
    started = time.perf_counter()
    for _ in range(iterations):
        np.copyto(dst, src)
    return 2.0 * src.nbytes * iterations / (time.perf_counter() - started) / 1e9


# BLAS and MLX worker threads keep spinning for a moment after their work:
# each side pauses first so that it does not run against the other's spin.
SETTLE_SECONDS = 0.3


# -- the service --------------------------------------------------------------


class Server:
    def __init__(self) -> None:
        self.data_dir = pathlib.Path(tempfile.mkdtemp(prefix="bench-compute-"))
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        self.log = open(self.data_dir / "server.log", "wb")
        env = {
            **os.environ,
            "AGENT_API_KEY": API_KEY,
            "COMPUTE_MAX_TASK_MEMORY_MB": "2048",
            "COMPUTE_METRICS_INTERVAL": "5",
        }
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "agent-runtime"),
                "serve",
                "--http-port",
                str(self.http_port),
                "--grpc-port",
                str(self.grpc_port),
                "--data-dir",
                str(self.data_dir),
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is not None:
            print(f"server exited early with {self.process.returncode}; its log:", file=sys.stderr)
            print((self.data_dir / "server.log").read_text()[-3000:], file=sys.stderr)
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.data_dir, ignore_errors=True)


async def wait_ready(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if (await client.get("/health")).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    else:
        raise SystemExit("server did not start")
    # The first task waits for the start-up probe; after it, selection is measured.
    await task(client, "compute", {"size": 10})


async def task(client: httpx.AsyncClient, operation: str, parameters: dict, **fields) -> dict:
    response = await client.post("/tasks", json={"operation": operation, "parameters": parameters, **fields})
    response.raise_for_status()
    body = response.json()
    if body["status"] != "completed":
        raise SystemExit(f"{operation} {parameters}: {body['status']} {body.get('error')}")
    return body


async def interleaved(client, repeats: int, operation: str, parameters: dict, key: str, raws: dict) -> tuple[float, str, dict]:
    """Alternates service and raw runs (service, raw A, raw B, service, …) so
    that other work on the machine disturbs every side alike; best of each.
    `raws` maps a name to (function, args, repeats)."""
    served: list[tuple[float, str]] = []
    raw_results: dict[str, list[float]] = {name: [] for name in raws}
    for index in range(repeats):
        await asyncio.sleep(SETTLE_SECONDS)
        body = await task(client, operation, parameters)
        served.append((body["result"]["output"][key], body["result"]["device_used"]))
        for name, (function, args, times) in raws.items():
            if index < times:
                time.sleep(SETTLE_SECONDS)
                raw_results[name].append(function(*args))
    rate, device = max(served)
    return rate, device, {name: max(values) for name, values in raw_results.items()}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def machine() -> str:
    config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    model = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor(),
    ) if pathlib.Path("/proc/cpuinfo").exists() else platform.processor()
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    return (
        f"{model}, {len(os.sched_getaffinity(0))} cores, {memory:.0f} GiB RAM, {platform.system()} {platform.machine()}; "
        f"Python {platform.python_version()}, NumPy {np.__version__} ({config.get('name')} {config.get('version')}), "
        f"MLX {getattr(mx, '__version__', 'n/a')}"
        + (f" (Metal {'yes' if mx.metal.is_available() else 'no'})" if mx else "")
        + f"; load average at start {os.getloadavg()[0]:.2f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes up to 1024, fewer repeats, smaller load test")
    parser.add_argument("--full", action="store_true", help="also time plain MLX at 4096 (minutes on CPU-only MLX)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    sizes = [(256, 50), (512, 20), (1024, 5)] + ([] if args.quick else [(2048, 2), (4096, 1)])
    print(f"machine: {machine()}\n")

    server = Server()
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, headers={"x-api-key": API_KEY}, timeout=300) as client:
            await wait_ready(client)
            devices = (await client.get("/devices")).json()["devices"]
            print("devices: " + "; ".join(f"{d['id']} ({d['type']}, {', '.join(d['capabilities'])})" for d in devices))
            print()

            print("## matrix_multiply (float32), GFLOP/s")
            print("| n | iterations | service (device) | plain NumPy | plain MLX | service / best raw |")
            print("|---|---|---|---|---|---|")
            for n, iterations in sizes:
                raws = {"numpy": (raw_numpy_matmul, (n, iterations), repeats)}
                if mx is not None and (n < 4096 or args.full):
                    # CPU-only MLX is slow at large sizes: one run, fewer iterations.
                    mlx_iterations = max(1, iterations // (4 if n >= 1024 else 1))
                    raws["mlx"] = (raw_mlx_matmul, (n, mlx_iterations), 1 if n >= 1024 else repeats)
                served, device, raw = await interleaved(
                    client, repeats, "matrix_multiply", {"size": n, "iterations": iterations}, "gflops", raws
                )
                numpy_rate, mlx_rate = raw["numpy"], raw.get("mlx")
                best_raw = max(r for r in (numpy_rate, mlx_rate) if r is not None)
                mlx_text = f"{mlx_rate:.1f}" if mlx_rate is not None else ("skipped (--full)" if mx else "n/a")
                print(f"| {n} | {iterations} | {served:.1f} ({device}) | {numpy_rate:.1f} | {mlx_text} | {served / best_raw:.2f} |")
            print()

            print("## vector_operations (add, multiply, dot; float32), GFLOP/s")
            print("| elements | iterations | service (device) | plain NumPy | plain MLX | service / best raw |")
            print("|---|---|---|---|---|---|")
            for n, iterations in ((100_000, 50), (1_000_000, 20), (10_000_000, 5)):
                raws = {"numpy": (raw_numpy_vector, (n, iterations), repeats)}
                if mx is not None:
                    raws["mlx"] = (raw_mlx_vector, (n, iterations), repeats)
                served, device, raw = await interleaved(
                    client, repeats, "vector_operations", {"size": n, "iterations": iterations}, "gflops", raws
                )
                numpy_rate, mlx_rate = raw["numpy"], raw.get("mlx")
                best_raw = max(r for r in (numpy_rate, mlx_rate) if r is not None)
                mlx_text = f"{mlx_rate:.2f}" if mlx_rate is not None else "n/a"
                print(f"| {n:,} | {iterations} | {served:.2f} ({device}) | {numpy_rate:.2f} | {mlx_text} | {served / best_raw:.2f} |")
            print()

            print("## memory_bandwidth (copy, read + write counted), GB/s")
            print("| MB per copy | iterations | service (device) | plain NumPy copyto | service / NumPy |")
            print("|---|---|---|---|---|")
            for size_mb, iterations in ((8, 50), (64, 10), (256, 4)):
                served, device, raw = await interleaved(
                    client,
                    repeats,
                    "memory_bandwidth",
                    {"size_mb": size_mb, "iterations": iterations},
                    "bandwidth_gb_s",
                    {"numpy": (raw_numpy_copy, (size_mb, iterations), repeats)},
                )
                numpy_rate = raw["numpy"]
                print(f"| {size_mb} | {iterations} | {served:.1f} ({device}) | {numpy_rate:.1f} | {served / numpy_rate:.2f} |")
            print()

            print("## per-task overhead through Envoy (tiny `compute` task, sequential)")
            count = 50 if args.quick else 200
            overheads, health_times = [], []
            for _ in range(count):
                started = time.perf_counter()
                body = await task(client, "compute", {"size": 1, "iterations": 1})
                overheads.append((time.perf_counter() - started - body["execution_time"]) * 1000)
            for _ in range(count):
                started = time.perf_counter()
                (await client.get("/health")).raise_for_status()
                health_times.append((time.perf_counter() - started) * 1000)
            print(
                f"{count} tasks: overhead p50 {statistics.median(overheads):.2f} ms, p95 {percentile(overheads, 0.95):.2f} ms "
                f"(request wall time minus reported execution time); GET /health p50 {statistics.median(health_times):.2f} ms"
            )
            print()

            print(f"## load: {200 if args.quick else 1000} tasks submitted without waiting, /health timed meanwhile")
            total = 200 if args.quick else 1000
            outcomes: dict[int, int] = {}
            refusals: dict[int, str] = {}
            health_under_load: list[float] = []
            stop = asyncio.Event()

            async def poll_health() -> None:
                while not stop.is_set():
                    started = time.perf_counter()
                    (await client.get("/health")).raise_for_status()
                    health_under_load.append((time.perf_counter() - started) * 1000)
                    await asyncio.sleep(0.005)

            async def submit_one(index: int) -> str | None:
                # ~10 ms of work each: more than the submissions' pace, so the
                # queue fills up to COMPUTE_MAX_QUEUED (256) and refuses the rest.
                response = await client.post(
                    "/tasks",
                    json={
                        "operation": "compute",
                        "parameters": {"size": 2_000_000, "iterations": 3},
                        "priority": 1 + index % 10,
                        "wait": False,
                    },
                )
                outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
                if response.status_code != 200:
                    refusals.setdefault(response.status_code, response.json()["detail"])
                return response.json()["task_id"] if response.status_code == 200 else None

            poller = asyncio.create_task(poll_health())
            started = time.perf_counter()
            semaphore = asyncio.Semaphore(20)

            async def limited(index: int):
                async with semaphore:
                    return await submit_one(index)

            accepted = [t for t in await asyncio.gather(*(limited(i) for i in range(total))) if t]
            submit_seconds = time.perf_counter() - started
            # drain: wait until every accepted task finished
            while (await client.get("/metrics")).json()["queued_tasks"] or (await client.get("/metrics")).json()["active_tasks"]:
                await asyncio.sleep(0.1)
            drain_seconds = time.perf_counter() - started
            stop.set()
            await poller
            listed = (await client.get("/tasks/enhanced", params={"limit": 1000})).json()["tasks"]
            statuses: dict[str, int] = {}
            accepted_ids = set(accepted)
            for entry in listed:
                if entry["task_id"] in accepted_ids:
                    statuses[entry["status"]] = statuses.get(entry["status"], 0) + 1
            print(
                f"{total} submitted in {submit_seconds:.2f} s (20 in flight): HTTP statuses {dict(sorted(outcomes.items()))}; "
                f"accepted tasks finished as {statuses}; all drained after {drain_seconds:.2f} s"
            )
            for status, detail in refusals.items():
                print(f"refused with {status}: {detail!r}")
            print(
                f"GET /health under load: {len(health_under_load)} calls, p50 {statistics.median(health_under_load):.2f} ms, "
                f"p99 {percentile(health_under_load, 0.99):.2f} ms, max {max(health_under_load):.2f} ms"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
