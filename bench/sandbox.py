#!/usr/bin/env python3
"""Start cost of an agent command with and without the sandbox: the same
`true` through the same runner (`tools/process.py run_command`), contained
by bubblewrap (with its rlimits and, as root, its pids cgroup) and with
SANDBOX=none, measured in interleaved rounds in one run; medians and their
ratio are reported.

    .venv/bin/python bench/sandbox.py [runs-per-kind]   (default 100)
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

from agent_runtime.tools.containment import Sandbox, SandboxSettings  # noqa: E402
from agent_runtime.tools.process import run_command  # noqa: E402


async def one_run(sandbox: Sandbox, project: str) -> float:
    started = time.perf_counter()
    code, output, _ = await run_command(["true"], project, timeout=30, output_limit=4096, sandbox=sandbox)
    elapsed = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"`true` failed under {sandbox.state}: {output}")
    return elapsed


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as data:
        project = pathlib.Path(data) / "workspaces" / "project"
        project.mkdir(parents=True)
        kinds = {
            "none": Sandbox.detect(SandboxSettings(mode="none")),
            "bubblewrap": Sandbox.detect(SandboxSettings(), [data]),
        }
        if kinds["bubblewrap"].state != "bubblewrap":
            raise SystemExit(f"no sandbox here: {kinds['bubblewrap'].problem}")
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(runs):
            # Interleaved, so that drifting load on a shared machine hits both.
            for kind, sandbox in kinds.items():
                times[kind].append(await one_run(sandbox, str(project)))
    medians = {kind: statistics.median(values) * 1000 for kind, values in times.items()}
    cgroup = kinds["bubblewrap"].new_cgroup()
    kinds["bubblewrap"].drop_cgroup(cgroup)
    print(f"runs per kind: {runs}; pids cgroup per command: {'yes' if cgroup else 'no'}")
    for kind, median in medians.items():
        p90 = statistics.quantiles(times[kind], n=10)[-1] * 1000
        print(f"{kind:>10}: median {median:.2f} ms, p90 {p90:.2f} ms")
    print(f"ratio bubblewrap/none: {medians['bubblewrap'] / medians['none']:.2f}x, "
          f"added {medians['bubblewrap'] - medians['none']:.2f} ms per command")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
