#!/usr/bin/env python3
"""SQLite against PostgreSQL in the same run (issue 16): one agent-runtime
server process (gRPC + Envoy) on each engine, and the FastAPI peer of
bench/run.py as the baseline of every REST number.

For each engine: REST `GET /sessions/{id}` and `POST /sessions/{id}/events`
through Envoy (autocannon: requests/s, CPU µs per request of the server +
Envoy, and of PostgreSQL's processes), and batched ingest (AppendEventBatches
streams of 100 events, acknowledged only after commit) in events/s and CPU
per event. PostgreSQL is a throwaway cluster of the machine's binaries on a
free loopback port (tests/postgres_helpers.py, fsync off), removed after.
From the measured CPU it writes a projection of the cores that 10k REST
requests/s and 100k events/s would take. With `--workers 1,2` it also
measures REST on PostgreSQL with 2 server processes behind the one Envoy
(`serve --workers 2`), as ratios against 1 worker and the peer of the same
run; several machines are not measured.

    scripts/setup-venv dev bench && npm ci --prefix bench
    .venv/bin/python bench/storage_engines.py [--quick] [--workers 1,2] [--write bench/RESULTS-storage.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pathlib
import shutil
import sys
import tempfile
import time
from typing import Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

from postgres_helpers import create_database, postgres_server  # noqa: E402
from run import (  # noqa: E402
    API_KEY,
    AUTOCANNON,
    EVENT,
    _create_ingest_session,
    autocannon,
    cpu_per_request,
    cpu_seconds,
    free_port,
    ingest_batches,
    machine,
    process,
    runtime_server,
    seed,
    wait_for,
    with_descendants,
)

ROUTES = (
    ("GET /sessions/{id}", "GET", "/sessions/bench", None),
    ("POST /sessions/{id}/events", "POST", "/sessions/bench/events", EVENT),
)
# Concurrent AppendEventBatches streams: the "4 writers".
INGEST_WRITERS = 4
PROJECTED_REST_RPS = 10_000
PROJECTED_EVENTS = 100_000


@contextlib.contextmanager
def cpu_of(groups: dict[str, list[int]], result: dict):
    """Adds `cpu_us_<group>` per request (result['requests']) for each
    group of processes."""
    before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    yield
    for name, pids in groups.items():
        result[f"cpu_us_{name}"] = (cpu_seconds(pids) - before[name]) / max(1, result["requests"]) * 1e6


async def ingest(target: str, events_per_writer: int) -> dict:
    started = time.perf_counter()
    results = await asyncio.gather(*(ingest_batches(target, events_per_writer) for _ in range(INGEST_WRITERS)))
    acknowledged = sum(result["requests"] for result in results)
    return {"rate": acknowledged / (time.perf_counter() - started), "requests": acknowledged}


def measure_rest(name: str, url: str, server_pid: int, database_pids: Callable[[], list[int]], args) -> dict:
    """REST numbers of one running server (its process and descendants:
    workers, Envoy)."""
    measured = {}
    seed(url)
    for label, method, path, body in ROUTES:
        autocannon(url + path, duration=1, connections=args.connections, method=method, body=body)  # warm-up
        groups = {"server": with_descendants(server_pid), "database": database_pids()}
        result: dict = {}
        with cpu_of(groups, result):
            result.update(autocannon(url + path, duration=args.duration, connections=args.connections, method=method, body=body))
        if result["non2xx"]:
            raise RuntimeError(f"{name} {label}: {result['non2xx']} errors during load")
        measured[label] = result
    return measured


def measure_engine(name: str, settings: dict[str, str], database_pids: Callable[[], list[int]], work: pathlib.Path, args) -> dict:
    """REST and ingest numbers of one server on one engine. PostgreSQL's
    processes are listed after each warm-up: it forks one per connection,
    and the server's pool opens them under load."""
    with runtime_server(None, work, name, settings) as (url, target, server):
        measured = measure_rest(name, url, server.pid, database_pids, args)
        asyncio.run(_create_ingest_session(target))
        asyncio.run(ingest(target, 1000))  # warm-up
        groups = {"server": with_descendants(server.pid), "database": database_pids()}
        result: dict = {}
        with cpu_of(groups, result):
            result.update(asyncio.run(ingest(target, args.ingest_events // INGEST_WRITERS)))
        measured["ingest"] = result
    return measured


def measure_workers(workers: int, settings: dict[str, str], database_pids: Callable[[], list[int]], work: pathlib.Path, args) -> dict:
    """REST numbers of `serve --workers N` on PostgreSQL (Envoy balancing
    over the workers)."""
    name = f"postgresql-{workers}-workers"
    with runtime_server(None, work, name, settings, workers=workers) as (url, _target, server):
        return measure_rest(name, url, server.pid, database_pids, args)


def measure_peer(work: pathlib.Path, args) -> dict:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.peers.fastapi_sessions:app", "--port", str(port), "--log-level", "warning"]
    measured = {}
    with process(command, {"PEER_DATABASE": str(work / "peer.sqlite3"), "PEER_API_KEY": API_KEY}, work / "peer.log") as peer:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/health")
        seed(url)
        for label, method, path, body in ROUTES:
            autocannon(url + path, duration=1, connections=args.connections, method=method, body=body)
            result: dict = {}
            with cpu_of({"server": [peer.pid]}, result):
                result.update(autocannon(url + path, duration=args.duration, connections=args.connections, method=method, body=body))
            measured[label] = result
    return measured


def table(engines: dict[str, dict], peer: dict) -> list[str]:
    lines = [
        "| measure | SQLite | PostgreSQL | FastAPI peer (SQLite) | SQLite / peer | PostgreSQL / peer |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    sqlite, postgres = engines["sqlite"], engines["postgresql"]
    for label, *_ in ROUTES:
        mine, pg, theirs = sqlite[label], postgres[label], peer[label]
        lines.append(
            f"| REST {label}: requests/s | {mine['rps']:.0f} | {pg['rps']:.0f} | {theirs['rps']:.0f} "
            f"| {mine['rps'] / theirs['rps']:.2f}x | {pg['rps'] / theirs['rps']:.2f}x |"
        )
        lines.append(
            f"| REST {label}: CPU µs per request (server + Envoy; PostgreSQL) | {mine['cpu_us_server']:.0f} "
            f"| {pg['cpu_us_server']:.0f}; {pg['cpu_us_database']:.0f} | {theirs['cpu_us_server']:.0f} "
            f"| {mine['cpu_us_server'] / theirs['cpu_us_server']:.2f}x "
            f"| {(pg['cpu_us_server'] + pg['cpu_us_database']) / theirs['cpu_us_server']:.2f}x |"
        )
    mine, pg = sqlite["ingest"], postgres["ingest"]
    lines.append(
        f"| Batched ingest ({INGEST_WRITERS} AppendEventBatches streams, 100 events per message), committed before ack: "
        f"events/s | {mine['rate']:.0f} | {pg['rate']:.0f} | - | - | PostgreSQL / SQLite {pg['rate'] / mine['rate']:.2f}x |"
    )
    lines.append(
        f"| Batched ingest: CPU µs per event (server + Envoy; PostgreSQL) | {mine['cpu_us_server']:.0f} "
        f"| {pg['cpu_us_server']:.0f}; {pg['cpu_us_database']:.0f} | - | - | - |"
    )
    return lines


def workers_table(one: dict, by_workers: dict[int, dict], peer: dict) -> list[str]:
    """PostgreSQL with N workers against 1 (the engine run above) and the
    peer: ratios only, the machine is shared."""
    lines = [
        "| measure | workers | requests/s vs 1 worker | requests/s vs peer | CPU per request vs 1 worker |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, *_ in ROUTES:
        base = one[label]
        for workers, measured in sorted(by_workers.items()):
            mine = measured[label]
            lines.append(
                f"| REST {label} | {workers} | {mine['rps'] / base['rps']:.2f}x | {mine['rps'] / peer[label]['rps']:.2f}x "
                f"| {(mine['cpu_us_server'] + mine['cpu_us_database']) / (base['cpu_us_server'] + base['cpu_us_database']):.2f}x |"
            )
    return lines


def projection(engines: dict[str, dict]) -> list[str]:
    """Cores = rate x measured CPU per request, as if CPU were all a request
    costs and it added up linearly over processes; no headroom."""
    lines = []
    for name, title in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        measured = engines[name]
        get = measured[ROUTES[0][0]]
        events = measured["ingest"]
        rest_server = PROJECTED_REST_RPS * get["cpu_us_server"] / 1e6
        rest_database = PROJECTED_REST_RPS * get["cpu_us_database"] / 1e6
        ingest_server = PROJECTED_EVENTS * events["cpu_us_server"] / 1e6
        ingest_database = PROJECTED_EVENTS * events["cpu_us_database"] / 1e6
        database_part = (
            f" + {rest_database:.1f} for PostgreSQL" if name == "postgresql" else " (SQLite's work is inside the server process)"
        )
        lines.append(
            f"- {title}: {PROJECTED_REST_RPS:,} REST GET/s ≈ {rest_server:.1f} cores of server + Envoy{database_part}; "
            f"{PROJECTED_EVENTS:,} batched events/s ≈ {ingest_server:.1f} cores of server + Envoy"
            + (f" + {ingest_database:.1f} for PostgreSQL." if name == "postgresql" else ".")
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 s per REST phase and 20,000 ingested events")
    parser.add_argument("--duration", type=int, default=10, help="seconds per REST load phase (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent HTTP connections (default 32)")
    parser.add_argument("--ingest-events", type=int, default=100_000, help="events ingested per engine, over all streams")
    parser.add_argument("--write", type=pathlib.Path, help="also write the results to this markdown file")
    parser.add_argument(
        "--workers",
        type=lambda text: sorted({int(n) for n in text.split(",") if n}),
        default=[1],
        help="also measure REST on PostgreSQL with these numbers of server processes (serve --workers), e.g. 1,2",
    )
    args = parser.parse_args()
    if args.quick:
        args.duration, args.ingest_events = 3, 20_000
    if not AUTOCANNON.exists():
        sys.exit("autocannon is missing: run `npm ci --prefix bench`")

    work = pathlib.Path(tempfile.mkdtemp(prefix="agent-runtime-bench-storage-"))
    load_before = os.getloadavg()
    engines: dict[str, dict] = {}
    try:
        with postgres_server() as database:
            database_url = asyncio.run(create_database(database.dsn))
            assert database.process is not None
            postmaster = database.process.pid
            engines["sqlite"] = measure_engine("sqlite", {}, list, work, args)
            engines["postgresql"] = measure_engine(
                "postgresql", {"DATABASE_URL": database_url}, lambda: with_descendants(postmaster), work, args
            )
            # Each on a database of its own, seeded as the engine's was.
            by_workers = {
                workers: measure_workers(
                    workers,
                    {"DATABASE_URL": asyncio.run(create_database(database.dsn))},
                    lambda: with_descendants(postmaster),
                    work,
                    args,
                )
                for workers in args.workers
                if workers > 1
            }
        peer = measure_peer(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    header = (
        f"Machine: {machine()}. Load average (1/5/15 min) {' / '.join(f'{v:.1f}' for v in load_before)} before, "
        f"{' / '.join(f'{v:.1f}' for v in load_after)} after: other work shared the cores, and the load generators "
        f"(autocannon, the Python ingest clients) ran on them too. Loopback only; {args.connections} connections, "
        f"{args.duration} s per REST phase, {args.ingest_events:,} events ingested per engine. One server process per engine in the first table"
        "; PostgreSQL is a local throwaway cluster with fsync off."
    )
    body = "\n".join(table(engines, peer))
    if by_workers:
        body += "\n\nPostgreSQL with more server processes (`serve --workers N`), REST only, as ratios (the machine is shared):\n\n"
        body += "\n".join(workers_table(engines["postgresql"], by_workers, peer))
    projected = "\n".join(projection(engines))
    print(f"{header}\n\n{body}\n\n{projected}")
    if args.write:
        args.write.write_text(
            "# Storage engines: SQLite and PostgreSQL\n\n"
            f"Produced by `.venv/bin/python bench/storage_engines.py{' --quick' if args.quick else ''} --write {args.write}` "
            f"on {time.strftime('%Y-%m-%d')}.\n\n{header}\n\n{body}\n\n"
            "## Projection from the CPU measured above\n\n"
            "Cores = rate × CPU per request measured here, added over processes, no headroom, on this machine's cores. "
            "It assumes the CPU cost per request stays as measured when the load is spread over more processes; "
            "with `--workers` it is measured for REST on one machine (the ratios above); several machines on one "
            "PostgreSQL are not measured, nor is how PostgreSQL's own cost grows with many "
            "writers (the feed counter row serialises appenders).\n\n"
            f"{projected}\n"
        )


if __name__ == "__main__":
    main()
