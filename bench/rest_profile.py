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

With --rate 0 the load is as fast as autocannon can send (saturation).
With --envoy-concurrency N the GETs go through a second Envoy with the
server's own config and N workers (bench/side_envoy.py). With --peers the
same round also measures the floor, bench/peers/bare_grpc.py behind that
same Envoy config, and the FastAPI peer (bench/peers/, no Envoy).

    .venv/bin/pip install py-spy   # the sampler, bench-only
    .venv/bin/python bench/rest_profile.py [--rate 400] [--seconds 8] [--rounds 3] [--baseline DIR]
    .venv/bin/python bench/rest_profile.py --rate 0 --envoy-concurrency 1 --peers --baseline DIR
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from run import API_KEY, AUTOCANNON, cpu_seconds, free_port, process, runtime_server, seed, wait_for, with_descendants  # noqa: E402
from side_envoy import side_envoy  # noqa: E402

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


def load(url: str, rate: int, duration: int) -> subprocess.CompletedProcess:
    """GETs of the seeded session at `rate` per second (0: as fast as it goes)."""
    pace = ["--overallRate", str(rate)] if rate else []
    return subprocess.run(
        [str(AUTOCANNON), "--json", "--connections", "16", *pace, "--duration", str(duration),
         "--headers", f"x-api-key={API_KEY}", f"{url}/sessions/bench"],
        capture_output=True, text=True, check=True,
    )


def cpu_per_get(url: str, server: list[int], envoy: list[int], rate: int, seconds: int, samples: pathlib.Path | None = None) -> dict:
    """CPU µs per GET of the server's and Envoy's processes, requests/s, and
    (with `samples`) py-spy's samples of the server's first process."""
    load(url, rate, 2)  # warm-up
    sampler = samples and subprocess.Popen(
        [str(PY_SPY), "record", "--pid", str(server[0]), "--format", "raw", "--rate", "200", "--nonblocking",
         "--duration", str(seconds), "--output", str(samples)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    server_before, envoy_before = cpu_seconds(server), cpu_seconds(envoy)
    report = load(url, rate, seconds)
    server_cpu, envoy_cpu = cpu_seconds(server) - server_before, cpu_seconds(envoy) - envoy_before
    if sampler:
        sampler.wait(timeout=60)
    result = json.loads(report.stdout)
    if result["non2xx"] or result["errors"]:
        raise RuntimeError(f"{url}: {result['non2xx']} non-2xx answers, {result['errors']} errors")
    requests = result["requests"]["total"]
    return {
        "rps": requests / seconds,
        "server_us": server_cpu / requests * 1e6,
        "envoy_us": envoy_cpu / requests * 1e6,
        "layers": read_samples(samples) if samples else collections.Counter(),
    }


def measure(source: pathlib.Path | None, work: pathlib.Path, name: str, args) -> dict:
    """One round: start a server from `source` (None: this tree), load it,
    return CPU µs per GET of the server and of Envoy and the layer shares;
    with --peers, the bare floor's and the FastAPI peer's under the same
    load (keys "bare grpc.aio" and "FastAPI peer")."""
    with runtime_server(source, work, name) as (url, _, server), contextlib.ExitStack() as stack:
        seed(url)
        envoy = [pid for pid in with_descendants(server.pid) if pid != server.pid]
        if args.envoy_concurrency:
            url, side = stack.enter_context(side_envoy(work / name, work, concurrency=args.envoy_concurrency))
            envoy = [side]
        result = cpu_per_get(url, [server.pid], envoy, args.rate, args.seconds, work / f"{name}.txt")
        if args.peers:
            bare_port = free_port()
            bare_command = [sys.executable, str(ROOT / "bench" / "peers" / "bare_grpc.py"), str(bare_port)]
            with process(bare_command, {}, work / f"{name}-bare.log", ready="ready") as bare, side_envoy(
                work / name, work, concurrency=args.envoy_concurrency or None, grpc_port=bare_port
            ) as (bare_url, bare_envoy):
                result["bare grpc.aio"] = cpu_per_get(bare_url, [bare.pid], [bare_envoy], args.rate, args.seconds)
            peer_port = free_port()
            peer_command = [sys.executable, "-m", "uvicorn", "bench.peers.fastapi_sessions:app", "--port", str(peer_port),
                            "--log-level", "warning"]
            peer_env = {"PEER_DATABASE": str(work / f"{name}-peer.sqlite3"), "PEER_API_KEY": API_KEY}
            with process(peer_command, peer_env, work / f"{name}-peer.log") as peer:
                peer_url = f"http://127.0.0.1:{peer_port}"
                wait_for(f"{peer_url}/health")
                seed(peer_url)
                result["FastAPI peer"] = cpu_per_get(peer_url, [peer.pid], [], args.rate, args.seconds)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=400, help="GET requests per second; 0: saturation (default 400)")
    parser.add_argument("--seconds", type=int, default=8, help="seconds per measurement (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per tree (default 3)")
    parser.add_argument("--baseline", type=pathlib.Path, help="a checkout of another commit to measure alongside")
    parser.add_argument("--envoy-concurrency", type=int, default=0, help="Envoy workers (default: the server's own Envoy)")
    parser.add_argument("--peers", action="store_true", help="also the bare grpc.aio floor and the FastAPI peer")
    args = parser.parse_args()
    if not PY_SPY.exists():
        sys.exit("py-spy is missing: .venv/bin/pip install py-spy")
    trees = {"this tree": None}
    if args.baseline is not None:
        trees["baseline"] = args.baseline.resolve()
    work = pathlib.Path(tempfile.mkdtemp(prefix="agent-runtime-profile-"))
    results: dict[str, list[dict]] = collections.defaultdict(list)
    try:
        for round_number in range(args.rounds):
            for index, (name, source) in enumerate(trees.items()):
                measured = measure(source, work, f"{index}-{round_number}", args)
                for peer in ("bare grpc.aio", "FastAPI peer"):
                    if peer in measured:
                        results[peer].append(measured.pop(peer))
                results[name].append(measured)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_said = f"at {args.rate}/s" if args.rate else "at saturation"
    envoy_said = f"Envoy --concurrency {args.envoy_concurrency}" if args.envoy_concurrency else "the server's Envoy"
    print(f"\nµs of CPU per GET {load_said}, {envoy_said}, medians of {args.rounds} rounds\n")
    print("| process | requests/s | server µs | Envoy µs | total µs | server per round |\n| --- | --- | --- | --- | --- | --- |")
    for name, rounds in results.items():
        median = {key: statistics.median(r[key] for r in rounds) for key in ("rps", "server_us", "envoy_us")}
        each = ", ".join(f"{r['server_us']:.0f}" for r in rounds)
        print(f"| {name} | {median['rps']:.0f} | {median['server_us']:.0f} | {median['envoy_us']:.0f} "
              f"| {median['server_us'] + median['envoy_us']:.0f} | {each} |")
    for name in trees:
        rounds = results[name]
        server_us = statistics.median(r["server_us"] for r in rounds)
        layers = sum((r["layers"] for r in rounds), collections.Counter())
        total = sum(layers.values()) or 1
        print(f"\n{name}: server {server_us:.0f} µs per GET by layer\n| layer | share of server samples | µs per GET |\n| --- | --- | --- |")
        for layer, count in layers.most_common():
            print(f"| {layer} | {count / total:.1%} | {count / total * server_us:.0f} |")


if __name__ == "__main__":
    main()
