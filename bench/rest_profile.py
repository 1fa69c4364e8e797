#!/usr/bin/env python3
"""Where the CPU of a REST GET goes: per process (our server, Envoy) and,
inside the server, per layer (issue 19).

Starts agent-runtime (gRPC server + Envoy) on a temp data dir, loads
`GET /sessions/{id}` through Envoy at a fixed rate with autocannon (a fixed
rate, not as fast as possible: on a shared machine CPU per request is then
comparable between runs and trees), and reads the CPU time each process used.
Meanwhile py-spy samples the server (busy threads only) and each sample is
counted to the layer of its innermost frame that belongs to one (LAYERS):
share x CPU per GET = microseconds per GET in that layer.

With --baseline DIR (a checkout of another commit, e.g.
`git worktree add /tmp/base <commit>`), that tree's server is measured the
same way, alternately with ours, in the same run; medians of --rounds.

    .venv/bin/pip install py-spy   # the sampler, bench-only
    .venv/bin/python bench/rest_profile.py [--rate 400] [--seconds 8] [--rounds 3] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from run import API_KEY, AUTOCANNON, cpu_seconds, runtime_server, seed, with_descendants  # noqa: E402

PY_SPY = pathlib.Path(sys.executable).parent / "py-spy"

# (layer, fragments of its frames as py-spy prints them: "function
# (path:line)"), innermost match wins; checked in this order for each frame.
LAYERS = (
    ("access log and request id (structlog)", ("structlog/", "interceptors/request_context.py", "agent_runtime/logs.py")),
    ("auth and rate limit", ("interceptors/auth.py", "interceptors/client_address.py", "identity/ratelimit.py", "hmac.py")),
    ("field rules (validation)", ("interceptors/validation.py",)),
    ("error model", ("interceptors/errors.py",)),
    ("interceptor wrapper", ("interceptors/call.py", "contextlib.py")),
    ("storage (aiosqlite, sqlite3)", ("aiosqlite/", "agent_runtime/storage/", "sqlite3/")),
    ("servicer and domain", ("sessions/servicer.py", "sessions/service.py", "identity/ownership.py", "agent_runtime/clock.py")),
    ("protobuf", ("google/protobuf/",)),
    ("grpc.aio (Python parts)", ("grpc/",)),
    # grpc.aio's core is Cython and C, invisible to py-spy: its time shows
    # as the event loop's callback (Handle._run) with no frame inside.
    ("grpc.aio core (Cython/C, inside the loop's callbacks)", ("Handle._run",)),
    ("epoll (waiting for and reading sockets)", ("selectors.py",)),
    ("asyncio event loop", ("asyncio/",)),
    ("other threads (in C code)", ("threading.py",)),
)


def layer_of(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for layer, fragments in LAYERS:
            if any(fragment in frame for fragment in fragments):
                return layer
    return "other"


def read_samples(path: pathlib.Path) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[layer_of(stack)] += int(count)
    return counts


def measure(source: pathlib.Path | None, work: pathlib.Path, name: str, rate: int, seconds: int) -> dict:
    """One round: start a server from `source` (None: this tree), load it,
    return CPU µs per GET of the server and of Envoy and the layer shares."""
    with runtime_server(source, work, name) as (url, _, server):
        seed(url)
        envoy = [pid for pid in with_descendants(server.pid) if pid != server.pid]

        def load(duration: int) -> subprocess.CompletedProcess:
            return subprocess.run(
                [str(AUTOCANNON), "--json", "--connections", "16", "--overallRate", str(rate), "--duration",
                 str(duration), "--headers", f"x-api-key={API_KEY}", f"{url}/sessions/bench"],
                capture_output=True, text=True, check=True,
            )

        load(2)  # warm-up
        samples = work / f"{name}.txt"
        sampler = subprocess.Popen(
            [str(PY_SPY), "record", "--pid", str(server.pid), "--format", "raw", "--rate", "200", "--nonblocking",
             "--duration", str(seconds), "--output", str(samples)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        server_before, envoy_before = cpu_seconds([server.pid]), cpu_seconds(envoy)
        report = load(seconds)
        server_cpu, envoy_cpu = cpu_seconds([server.pid]) - server_before, cpu_seconds(envoy) - envoy_before
        sampler.wait(timeout=60)
    requests = json.loads(report.stdout)["requests"]["total"]
    return {
        "server_us": server_cpu / requests * 1e6,
        "envoy_us": envoy_cpu / requests * 1e6,
        "layers": read_samples(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=400, help="GET requests per second (default 400)")
    parser.add_argument("--seconds", type=int, default=8, help="seconds per measurement (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per tree (default 3)")
    parser.add_argument("--baseline", type=pathlib.Path, help="a checkout of another commit to measure alongside")
    args = parser.parse_args()
    if not PY_SPY.exists():
        sys.exit("py-spy is missing: .venv/bin/pip install py-spy")
    trees = {"this tree": None}
    if args.baseline is not None:
        trees["baseline"] = args.baseline.resolve()
    work = pathlib.Path(tempfile.mkdtemp(prefix="agent-runtime-profile-"))
    results: dict[str, list[dict]] = {name: [] for name in trees}
    try:
        for round_number in range(args.rounds):
            for index, (name, source) in enumerate(trees.items()):
                results[name].append(measure(source, work, f"{index}-{round_number}", args.rate, args.seconds))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name, rounds in results.items():
        server_us = statistics.median(r["server_us"] for r in rounds)
        envoy_us = statistics.median(r["envoy_us"] for r in rounds)
        layers = sum((r["layers"] for r in rounds), collections.Counter())
        total = sum(layers.values()) or 1
        each = ", ".join(f"{r['server_us']:.0f}" for r in rounds)
        print(f"\n{name}: server {server_us:.0f} µs + Envoy {envoy_us:.0f} µs per GET at {args.rate}/s "
              f"(medians of {len(rounds)}; server per round: {each})")
        print("| layer | share of server samples | µs per GET |\n| --- | --- | --- |")
        for layer, count in layers.most_common():
            print(f"| {layer} | {count / total:.1%} | {count / total * server_us:.0f} |")


if __name__ == "__main__":
    main()
