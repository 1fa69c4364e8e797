#!/usr/bin/env python3
"""Benchmarks the session-event surface against a baseline in the same run.

Starts agent-runtime (gRPC + Envoy + bridge) and the FastAPI peer in
bench/peers/, both on loopback with SQLite in a temp dir, then measures:
REST through Envoy vs the peer (autocannon: requests/s, p50, p99), direct
gRPC unary calls, event ingest over the AppendEvents stream vs one call per
event, and /ws fan-out latency to many subscribers. Every number that a goal
is about is reported as a ratio against its baseline from this same run.
Beside throughput it reports CPU time per request (our server + Envoy
against the peer's process; our gRPC server against a bare grpc.aio server
in bench/peers/bare_grpc.py), which is what bounds requests/s when the load
generator shares the machine's cores.

    scripts/setup-venv dev bench && npm ci --prefix bench
    .venv/bin/python bench/run.py [--duration 10] [--phases rest,ingest,fanout] [--write bench/RESULTS.md]

With --phases, only those phases run (rest: REST and direct gRPC), and
--write replaces only their rows in an existing results file. With
--baseline DIR (a checkout of another commit: `git worktree add DIR COMMIT`)
the fanout phase also measures a server run from that tree, alternately
with ours (medians of --rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pathlib
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "gen")]

import grpc  # noqa: E402
import httpx  # noqa: E402

from agentruntime.v1 import session_pb2 as pb  # noqa: E402
from agentruntime.v1 import session_pb2_grpc  # noqa: E402
from fanout import fan_out  # noqa: E402

API_KEY = "bench-key"
# The configured key's rate limit is off: the peer has none, and the load
# would otherwise measure 429s.
SERVER_ENV = {"AGENT_API_KEY": API_KEY, "RATE_LIMIT_ADMIN": "0"}
METADATA = (("x-api-key", API_KEY),)
EVENT = {"event_type": "pre_tool", "tool_name": "Bash", "tool_input": {"command": "ls -la", "timeout": 30}}
AUTOCANNON = ROOT / "bench" / "node_modules" / ".bin" / "autocannon"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], log: pathlib.Path, ready: str | None = None):
    # Output goes to a file: a pipe nobody reads would fill and stall the server.
    with log.open("w") as output:
        child = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while ready is not None and ready not in log.read_text():
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time that these processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def with_descendants(pid: int) -> list[int]:
    """`pid` and its children, recursively (our server runs Envoy as one)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in pathlib.Path(f"/proc/{current}/task").iterdir():
            pending += [int(child) for child in (task / "children").read_text().split()]
    return found


@contextlib.contextmanager
def cpu_per_request(pids: list[int], result: dict):
    """Adds `cpu_us`: CPU microseconds per request (result['requests'])
    that `pids` used during the block."""
    before = cpu_seconds(pids)
    yield
    result["cpu_us"] = (cpu_seconds(pids) - before) / max(1, result["requests"]) * 1e6


def wait_for_probe(log: pathlib.Path, timeout: float = 120, processes: int = 1) -> None:
    """Waits for the compute device probe's two start-up passes (of each of
    `processes` server processes), which would otherwise compete with the
    first load phases for the CPU."""
    deadline = time.monotonic() + timeout
    while log.read_text().count("compute.probed") < 2 * processes:
        if time.monotonic() > deadline:
            raise RuntimeError("the server's compute probe did not finish")
        time.sleep(0.2)


@contextlib.contextmanager
def runtime_server(
    source: pathlib.Path | None, work: pathlib.Path, name: str, settings: dict[str, str] | None = None, workers: int = 1
):
    """agent-runtime (gRPC + Envoy + bridge) from `source`, a checkout of
    another commit (its src/ and gen/ come first on the path), or from this
    tree when None, with `settings` added to its environment (DATABASE_URL),
    as `workers` server processes (serve --workers); yields its HTTP URL,
    gRPC target (the first worker's) and process once its start-up work is
    done."""
    http_port, grpc_port = free_port(), free_port()
    env = {**SERVER_ENV, **(settings or {})}
    if source is not None:
        env["PYTHONPATH"] = f"{source / 'src'}:{source / 'gen'}"
    command = [
        str(pathlib.Path(sys.executable).parent / "agent-runtime"), "serve", "--http-port", str(http_port),
        "--grpc-port", str(grpc_port), "--data-dir", str(work / name),
    ] + (["--workers", str(workers)] if workers > 1 else [])
    with process(command, env, work / f"{name}.log", ready="ready") as server:
        wait_for_probe(work / f"{name}.log", processes=workers)
        yield f"http://127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}", server


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def autocannon(url: str, *, duration: int, connections: int, method: str = "GET", body: dict | None = None) -> dict:
    command = [
        str(AUTOCANNON), "--json", "--connections", str(connections), "--duration", str(duration),
        "--method", method, "--headers", f"x-api-key={API_KEY}", "--headers", "content-type=application/json",
    ]
    if body is not None:
        command += ["--body", json.dumps(body)]
    result = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    return {
        "rps": report["requests"]["average"],
        "p50": report["latency"]["p50"],
        "p99": report["latency"]["p99"],
        "non2xx": report["non2xx"] + report["errors"],
        "requests": report["requests"]["total"],
    }


def seed(base_url: str) -> None:
    with httpx.Client(base_url=base_url, headers={"x-api-key": API_KEY}) as client:
        assert client.post("/sessions", json={"session_id": "bench", "session_name": "bench"}).status_code == 200
        for _ in range(10):
            assert client.post("/sessions/bench/events", json=EVENT).status_code == 200


async def grpc_unary(target: str, duration: float, concurrency: int) -> dict:
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        request = pb.GetSessionRequest(session_id="bench")
        deadline = time.perf_counter() + duration

        async def loop() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await stub.GetSession(request, metadata=METADATA)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 0.5) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "requests": len(latencies),
    }


def event_message(index: int) -> pb.Event:
    event = pb.Event(event_type="pre_tool", tool_name="Bash")
    event.tool_input.update({"command": f"echo {index}", "timeout": 30})
    return event


async def ingest_streaming(target: str, count: int) -> dict:
    """Events/s acknowledged (committed) over one AppendEvents stream. The
    client pipelines, as ingest clients do: grpc sends from the request
    iterator while acknowledgements come back."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        messages = [pb.AppendEventsRequest(session_id="ingest", event=event_message(i)) for i in range(count)]
        started = time.perf_counter()
        acknowledged, last_sequence = 0, 0
        async for ack in stub.AppendEvents(iter(messages), metadata=METADATA):
            assert not ack.HasField("error"), ack.error
            assert ack.event.sequence == 0 or ack.event.sequence > last_sequence, "acknowledgements out of order"
            last_sequence = ack.event.sequence
            acknowledged += 1
        return {"rate": acknowledged / (time.perf_counter() - started), "requests": acknowledged}


async def ingest_batches(target: str, count: int, batch_size: int = 100) -> dict:
    """Events/s acknowledged (committed) over one AppendEventBatches stream,
    `batch_size` events per message, pipelined like ingest_streaming."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        messages = [
            pb.AppendEventBatchesRequest(
                session_id="ingest", events=[event_message(i) for i in range(start, min(count, start + batch_size))]
            )
            for start in range(0, count, batch_size)
        ]
        started = time.perf_counter()
        acknowledged, last_sequence = 0, 0
        async for response in stub.AppendEventBatches(iter(messages), metadata=METADATA):
            for ack in response.results:
                assert not ack.HasField("error"), ack.error
                assert ack.event.sequence > last_sequence, "acknowledgements out of order"
                last_sequence = ack.event.sequence
                acknowledged += 1
        return {"rate": acknowledged / (time.perf_counter() - started), "requests": acknowledged}


async def ingest_unary(target: str, duration: float, concurrency: int) -> dict:
    """Events/s acknowledged with one CreateEvent call per event."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        deadline = time.perf_counter() + duration
        count = 0

        async def loop() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                await stub.CreateEvent(pb.CreateEventRequest(session_id="ingest", event=event_message(count)), metadata=METADATA)
                count += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return {"rate": count / (time.perf_counter() - started), "requests": count}


def measure_fan_out(http_url: str, target: str, subscribers: int, pid: int) -> dict:
    """bench/fanout.py's phase against one server: p50, p99 and CPU per
    event of the server, its Envoy and the bench's clients."""
    envoy = [child for child in with_descendants(pid) if child != pid]
    meters = {"server": lambda: cpu_seconds([pid]), "envoy": lambda: cpu_seconds(envoy)}
    result = asyncio.run(fan_out(http_url, target, subscribers, FAN_OUT_EVENTS, meters, API_KEY))
    arrivals = result.pop("arrivals")
    return {**result, "deliveries": len(arrivals), "p50": percentile(arrivals, 0.5) * 1000, "p99": percentile(arrivals, 0.99) * 1000}


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


PHASES = ("rest", "ingest", "fanout")
FAN_OUT_EVENTS = 200
TABLE_HEADER = ["| measure | agent-runtime | baseline (same run) | ratio |", "| --- | --- | --- | --- |"]


def write_results(path: pathlib.Path, header: str, rows: list[tuple[str, str, str, str]], phases: list[str]) -> None:
    """Writes the whole file after a full run; after a run of some phases,
    replaces only their rows (by measure) in the existing table and notes
    when and how they were re-measured."""
    today = time.strftime("%Y-%m-%d")
    new_lines = [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    if list(phases) == list(PHASES) or not path.exists():
        path.write_text(
            "# Benchmark results\n\nProduced by `.venv/bin/python bench/run.py --write bench/RESULTS.md` "
            f"on {today}.\n\n{header}\n\n" + "\n".join(TABLE_HEADER + new_lines) + "\n"
        )
        return
    lines = path.read_text().splitlines()
    first = lines.index(TABLE_HEADER[1]) + 1
    last = first
    while last < len(lines) and lines[last].startswith("| "):
        last += 1
    table = lines[first:last]
    measures = [line.split(" | ")[0][2:] for line in table]
    previous = None
    for row, line in zip(rows, new_lines):
        if row[0] in measures:
            table[measures.index(row[0])] = line
        else:  # a new measure goes after the one measured before it
            at = measures.index(previous) + 1 if previous in measures else len(table)
            table.insert(at, line)
            measures.insert(at, row[0])
        previous = row[0]
    note_start = f"Rows of the {', '.join(phases)} phases re-measured"
    after = [line for line in lines[last:] if not line.startswith(note_start)]
    while after and not after[0]:
        after.pop(0)
    note = f"{note_start} on {today} (`--phases {','.join(phases)}`). {header}"
    path.write_text("\n".join(lines[:first] + table + ["", note, ""] + after) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per HTTP/gRPC load phase (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections/calls (default 32)")
    parser.add_argument("--ingest-events", type=int, default=50_000, help="events sent over one AppendEvents stream")
    parser.add_argument("--subscribers", type=int, default=100, help="/ws subscribers for the fan-out phase")
    parser.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma-separated phases to run, of {', '.join(PHASES)} (default all)"
    )
    parser.add_argument(
        "--baseline", type=pathlib.Path,
        help="a checkout of another commit (git worktree add DIR COMMIT): the fanout phase also measures a server "
        "run from it, alternately with ours",
    )
    parser.add_argument("--rounds", type=int, default=1, help="fan-out rounds per tree, medians reported (default 1)")
    parser.add_argument("--write", type=pathlib.Path, help="also write the results table to this markdown file")
    args = parser.parse_args()
    if unknown := set(args.phases.split(",")) - set(PHASES):
        sys.exit(f"unknown phases {sorted(unknown)}: choose from {', '.join(PHASES)}")
    phases = [phase for phase in PHASES if phase in args.phases.split(",")]
    if not AUTOCANNON.exists():
        sys.exit("autocannon is missing: run `npm ci --prefix bench`")
    try:
        import fastapi  # noqa: F401
    except ImportError:
        sys.exit("the FastAPI peer needs the bench extras: scripts/setup-venv dev bench")

    work = pathlib.Path(tempfile.mkdtemp(prefix="agent-runtime-bench-"))
    peer_port = free_port()
    peer = f"http://127.0.0.1:{peer_port}"
    rows: list[tuple[str, str, str, str]] = []
    peer_command = [sys.executable, "-m", "uvicorn", "bench.peers.fastapi_sessions:app", "--port", str(peer_port), "--log-level", "warning"]
    try:
        with runtime_server(None, work, "runtime") as (ours, target, server), process(
            peer_command, {"PEER_DATABASE": str(work / "peer.sqlite3"), "PEER_API_KEY": API_KEY}, work / "peer.log"
        ) as peer_process:
            wait_for(f"{peer}/health")
            ours_pids = with_descendants(server.pid)
            seed(ours)
            seed(peer)
            rest_routes = (
                ("GET /sessions/{id}", "GET", "/sessions/bench", None),
                ("POST /sessions/{id}/events", "POST", "/sessions/bench/events", EVENT),
            )
            for label, method, path, body in rest_routes if "rest" in phases else ():
                autocannon(ours + path, duration=2, connections=args.connections, method=method, body=body)  # warm-up
                mine, theirs = {}, {}
                with cpu_per_request(ours_pids, mine):
                    mine.update(autocannon(ours + path, duration=args.duration, connections=args.connections, method=method, body=body))
                with cpu_per_request([peer_process.pid], theirs):
                    theirs.update(autocannon(peer + path, duration=args.duration, connections=args.connections, method=method, body=body))
                if mine["non2xx"] or theirs["non2xx"]:
                    raise RuntimeError(f"{label}: errors during load (ours {mine['non2xx']}, peer {theirs['non2xx']})")
                rows.append((
                    f"REST {label}: requests/s",
                    f"{mine['rps']:.0f}", f"{theirs['rps']:.0f} (FastAPI peer)", f"{mine['rps'] / theirs['rps']:.2f}x",
                ))
                rows.append((
                    f"REST {label}: p50 / p99 ms",
                    f"{mine['p50']:.1f} / {mine['p99']:.1f}", f"{theirs['p50']:.1f} / {theirs['p99']:.1f}",
                    f"p99 {theirs['p99'] / max(mine['p99'], 0.001):.2f}x lower" if mine["p99"] <= theirs["p99"]
                    else f"p99 {mine['p99'] / max(theirs['p99'], 0.001):.2f}x higher",
                ))
                rows.append((
                    f"REST {label}: CPU µs per request",
                    f"{mine['cpu_us']:.0f} (server + Envoy)", f"{theirs['cpu_us']:.0f} (FastAPI peer)",
                    f"{mine['cpu_us'] / theirs['cpu_us']:.2f}x",
                ))
            if "rest" in phases:
                rows += _grpc_unary_rows(target, args, rows, server, work)
            bare_port = free_port()
            bare_command = [sys.executable, str(ROOT / "bench" / "peers" / "bare_grpc.py"), str(bare_port)]
            if "ingest" in phases:
                asyncio.run(_create_ingest_session(target))
                one_by_one: dict = {}
                with cpu_per_request([server.pid], one_by_one):
                    one_by_one.update(asyncio.run(ingest_unary(target, args.duration, args.connections)))
                streamed: dict = {}
                with cpu_per_request([server.pid], streamed):
                    streamed.update(asyncio.run(ingest_streaming(target, args.ingest_events)))
                batched: dict = {}
                with cpu_per_request([server.pid], batched):
                    batched.update(asyncio.run(ingest_batches(target, args.ingest_events)))
                with process(bare_command, {}, work / "bare-stream.log", ready="ready") as bare:
                    echo: dict = {}
                    with cpu_per_request([bare.pid], echo):
                        echo.update(asyncio.run(ingest_streaming(f"127.0.0.1:{bare_port}", args.ingest_events)))
                rows.append((
                    "Event ingest, committed before ack: events/s",
                    f"{streamed['rate']:.0f} (AppendEvents stream)", f"{one_by_one['rate']:.0f} (CreateEvent per event)",
                    f"{streamed['rate'] / one_by_one['rate']:.1f}x",
                ))
                rows.append((
                    "Event ingest, committed before ack, 100 events per message: events/s",
                    f"{batched['rate']:.0f} (AppendEventBatches stream)", f"{one_by_one['rate']:.0f} (CreateEvent per event)",
                    f"{batched['rate'] / one_by_one['rate']:.1f}x",
                ))
                rows.append((
                    "Event ingest: server CPU µs per acknowledged event",
                    f"{streamed['cpu_us']:.0f} (AppendEvents stream); {batched['cpu_us']:.0f} (AppendEventBatches)",
                    f"{one_by_one['cpu_us']:.0f} (CreateEvent per event); {echo['cpu_us']:.0f} "
                    f"(bare grpc.aio AppendEvents echo, {echo['rate']:.0f} events/s)",
                    f"{streamed['cpu_us'] / echo['cpu_us']:.2f}x the echo",
                ))
            if "fanout" in phases:
                rows += _fan_out_rows(args, ours, target, server, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table = "\n".join(TABLE_HEADER + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows])
    header = (
        f"Machine: {machine()}. Loopback only; {args.connections} connections, {args.duration} s per phase; "
        "load generator autocannon (Node) on the same machine."
    )
    print(header + "\n\n" + table)
    if args.write:
        write_results(args.write, header, rows, phases)


def _grpc_unary_rows(target: str, args, rows: list, server, work: pathlib.Path) -> list[tuple[str, str, str, str]]:
    """Direct gRPC GetSession against the REST row and a bare grpc.aio server."""
    unary: dict = {}
    with cpu_per_request([server.pid], unary):
        unary.update(asyncio.run(grpc_unary(target, args.duration, args.connections)))
    rest_get = next(r for r in rows if r[0].startswith("REST GET") and "requests/s" in r[0])
    bare_port = free_port()
    with process([sys.executable, str(ROOT / "bench" / "peers" / "bare_grpc.py"), str(bare_port)], {}, work / "bare.log", ready="ready") as bare:
        floor: dict = {}
        with cpu_per_request([bare.pid], floor):
            floor.update(asyncio.run(grpc_unary(f"127.0.0.1:{bare_port}", args.duration, args.connections)))
    return [
        (
            "gRPC GetSession direct: calls/s (p50 / p99 ms)",
            f"{unary['rps']:.0f} ({unary['p50']:.1f} / {unary['p99']:.1f})",
            f"{rest_get[1]} (REST through Envoy)", f"{unary['rps'] / float(rest_get[1]):.2f}x",
        ),
        (
            "gRPC GetSession direct: server CPU µs per call",
            f"{unary['cpu_us']:.0f}", f"{floor['cpu_us']:.0f} (bare grpc.aio, {floor['rps']:.0f} calls/s)",
            f"{unary['cpu_us'] / floor['cpu_us']:.2f}x",
        ),
    ]


def _fan_out_rows(args, ours: str, target: str, server, work: pathlib.Path) -> list[tuple[str, str, str, str]]:
    """/ws fan-out latency and CPU per event; with --baseline, the same on a
    server of that tree, alternately with ours, medians of --rounds."""
    measured: dict[str, list[dict]] = {"ours": [], "baseline": []}
    for _ in range(args.rounds):
        measured["ours"].append(measure_fan_out(ours, target, args.subscribers, server.pid))
        if args.baseline is not None:
            with runtime_server(args.baseline.resolve(), work, f"baseline-{len(measured['baseline'])}") as (url, grpc_target, base):
                measured["baseline"].append(measure_fan_out(url, grpc_target, args.subscribers, base.pid))
    fan, base = ({key: statistics.median(r[key] for r in runs) for key in runs[0]} if runs else None for runs in measured.values())
    label = f"/ws fan-out to {args.subscribers} subscribers"
    if base is None:
        return [(
            f"{label}: p50 / p99 ms", f"{fan['p50']:.1f} / {fan['p99']:.1f}",
            f"{fan['deliveries']:.0f} deliveries; CPU per event: server {fan['server_ms']:.1f} ms, Envoy {fan['envoy_ms']:.1f} ms", "goal p99 < 20 ms",
        )]
    return [
        (
            f"{label}: p50 / p99 ms", f"{fan['p50']:.1f} / {fan['p99']:.1f}",
            f"{base['p50']:.1f} / {base['p99']:.1f} (baseline tree)", f"p99 {base['p99'] / fan['p99']:.1f}x lower; goal < 20 ms",
        ),
        (
            f"{label}: CPU ms per event (server process; Envoy; bench clients)",
            f"{fan['server_ms']:.1f}; {fan['envoy_ms']:.1f}; {fan['client_ms']:.1f}",
            f"{base['server_ms']:.1f}; {base['envoy_ms']:.1f}; {base['client_ms']:.1f}",
            f"server {base['server_ms'] / fan['server_ms']:.1f}x less",
        ),
    ]


async def _create_ingest_session(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        await stub.CreateSession(pb.CreateSessionRequest(session_id="ingest"), metadata=METADATA)


if __name__ == "__main__":
    main()
