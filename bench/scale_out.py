#!/usr/bin/env python3
"""One server process against two on PostgreSQL (issue 16), in the same run:
`agent-runtime serve --workers N` for each N of `--workers`, each on a fresh
database of one throwaway PostgreSQL (tests/postgres_helpers.py, fsync off).

For each N:
- `/ws` fan-out: `--subscribers` clients through Envoy, which spreads their
  connections over the workers' bridges (least request), 200 events 20 ms
  apart (bench/fanout.py): p50/p99 and CPU ms per event of the server
  processes (the parent and its workers), Envoy, PostgreSQL and the bench's
  clients;
- batched ingest: 4 AppendEventBatches streams of 100 events per message,
  acknowledged after commit, spread over the workers' gRPC ports (GRPC_PORT+i):
  events/s and CPU µs per event.

From the CPU per event it writes the cores that 10k live subscribers and
100k events/s would take. The machine's cores are shared with the bench's own
clients, so the CPU columns, not the latencies, are what carries over.

    scripts/setup-venv dev bench && npm ci --prefix bench
    .venv/bin/python bench/scale_out.py [--workers 1,2] [--subscribers 1000] [--write bench/RESULTS-scale-out.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import shutil
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

from fanout import fan_out  # noqa: E402
from postgres_helpers import create_database, postgres_server  # noqa: E402
from run import (  # noqa: E402
    API_KEY,
    FAN_OUT_EVENTS,
    _create_ingest_session,
    cpu_seconds,
    ingest_batches,
    machine,
    percentile,
    runtime_server,
    with_descendants,
)

INGEST_WRITERS = 4
PROJECTED_SUBSCRIBERS = 10_000
PROJECTED_EVENTS = 100_000


def split_processes(parent: int) -> tuple[list[int], list[int]]:
    """(the server's Python processes: the parent and its workers, Envoy's)."""
    pids = with_descendants(parent)
    envoy = [pid for pid in pids if pathlib.Path(f"/proc/{pid}/comm").read_text().strip() == "envoy"]
    return [pid for pid in pids if pid not in envoy], envoy


async def ingest(targets: list[str], events_per_writer: int, database: list[int], server: list[int], envoy: list[int]) -> dict:
    await _create_ingest_session(targets[0])
    before = {name: cpu_seconds(pids) for name, pids in (("server", server), ("envoy", envoy), ("database", database))}
    started = time.perf_counter()
    results = await asyncio.gather(
        *(ingest_batches(targets[index % len(targets)], events_per_writer) for index in range(INGEST_WRITERS))
    )
    elapsed = time.perf_counter() - started
    events = sum(result["requests"] for result in results)
    used = {name: cpu_seconds(pids) - before[name] for name, pids in (("server", server), ("envoy", envoy), ("database", database))}
    return {"rate": events / elapsed, **{f"{name}_us": seconds / events * 1e6 for name, seconds in used.items()}}


def measure(workers: int, server_dsn: str, postmaster: int, work: pathlib.Path, args) -> dict:
    database_url = asyncio.run(create_database(server_dsn))
    with runtime_server(None, work, f"workers-{workers}", {"DATABASE_URL": database_url}, workers=workers) as (url, target, parent):
        server, envoy = split_processes(parent.pid)
        database = lambda: with_descendants(postmaster)  # noqa: E731 - a backend per new connection
        meters = {
            "server": lambda: cpu_seconds(server),
            "envoy": lambda: cpu_seconds(envoy),
            "database": lambda: cpu_seconds(database()),
        }
        fan = asyncio.run(fan_out(url, target, args.subscribers, FAN_OUT_EVENTS, meters, API_KEY))
        arrivals = fan.pop("arrivals")
        host, port = target.rsplit(":", 1)
        targets = [f"{host}:{int(port) + index}" for index in range(workers)]
        events = asyncio.run(ingest(targets, args.ingest_events // INGEST_WRITERS, database(), server, envoy))
    return {
        "p50": percentile(arrivals, 0.5) * 1000,
        "p99": percentile(arrivals, 0.99) * 1000,
        "deliveries": len(arrivals),
        **fan,
        "ingest": events,
    }


def report(results: dict[int, dict], args, load: tuple) -> list[str]:
    counts = sorted(results)
    one = results[counts[0]]
    head = "| measure | " + " | ".join(f"{n} worker{'s' if n > 1 else ''}" for n in counts) + " |"
    lines = [
        "# Scale-out: one and more server processes on PostgreSQL",
        "",
        f"Produced by `.venv/bin/python bench/scale_out.py --workers {','.join(map(str, counts))} "
        f"--subscribers {args.subscribers}` on {time.strftime('%Y-%m-%d')}.",
        "",
        f"Machine: {machine()}. Load average before/after: {load[0]:.1f} / {os.getloadavg()[0]:.1f}. "
        "PostgreSQL is local (fsync off); the bench's clients, Envoy, PostgreSQL and the workers share the "
        "same cores, so latencies are bounded by this machine; the CPU per event is what carries over.",
        "",
        head,
        "| --- |" + " --- |" * len(counts),
    ]

    def row(name: str, cell) -> None:
        lines.append(f"| {name} | " + " | ".join(cell(results[n]) for n in counts) + " |")

    row(f"/ws fan-out to {args.subscribers}: deliveries", lambda r: f"{r['deliveries']}")
    row(f"/ws fan-out to {args.subscribers}: p50 / p99 ms", lambda r: f"{r['p50']:.1f} / {r['p99']:.1f}")
    row("fan-out CPU ms per event: server processes", lambda r: f"{r['server_ms']:.1f}")
    row("fan-out CPU ms per event: Envoy", lambda r: f"{r['envoy_ms']:.1f}")
    row("fan-out CPU ms per event: PostgreSQL", lambda r: f"{r['database_ms']:.1f}")
    row("fan-out CPU ms per event: bench clients", lambda r: f"{r['client_ms']:.1f}")
    row("batched ingest events/s (committed, acknowledged)", lambda r: f"{r['ingest']['rate']:.0f} ({r['ingest']['rate'] / one['ingest']['rate']:.2f}x)")
    row("ingest CPU µs per event: server; Envoy; PostgreSQL", lambda r: f"{r['ingest']['server_us']:.0f}; {r['ingest']['envoy_us']:.0f}; {r['ingest']['database_us']:.0f}")
    last = results[counts[-1]]
    per_subscriber = (last["server_ms"] + last["envoy_ms"]) / args.subscribers  # ms of CPU per event and subscriber
    ingest_cores = PROJECTED_EVENTS * (last["ingest"]["server_us"] + last["ingest"]["database_us"]) / 1e6
    lines += [
        "",
        "## Projection from the CPU measured above (the largest worker count)",
        "",
        f"- {PROJECTED_SUBSCRIBERS:,} live `/ws` subscribers of one session, one event every 20 ms: "
        f"{per_subscriber * PROJECTED_SUBSCRIBERS / 20:.1f} cores of server + Envoy busy just to keep up "
        f"({per_subscriber * 1000:.1f} µs per event and subscriber), spread over workers of at most ~1,000 subscribers "
        "each (bench/RESULTS.md: one bridge writes its sockets in turn); clients on other machines.",
        f"- {PROJECTED_EVENTS:,} batched events/s: {ingest_cores:.1f} cores of server + PostgreSQL "
        "(Envoy is not on the native gRPC path the ingest streams take).",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=lambda text: sorted({int(n) for n in text.split(",") if n}), default=[1, 2])
    parser.add_argument("--subscribers", type=int, default=1000, help="/ws subscribers (default 1000)")
    parser.add_argument("--ingest-events", type=int, default=100_000, help="events ingested per worker count")
    parser.add_argument("--write", type=pathlib.Path, help="also write the results to this markdown file")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="agent-runtime-bench-scale-out-"))
    load = os.getloadavg()
    try:
        with postgres_server() as database:
            assert database.process is not None
            results = {n: measure(n, database.dsn, database.process.pid, work, args) for n in args.workers}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(report(results, args, load)) + "\n"
    print(text)
    if args.write:
        args.write.write_text(text)


if __name__ == "__main__":
    main()
