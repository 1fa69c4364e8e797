#!/usr/bin/env python3
"""The long fuzzing run: schemathesis against /openapi.json through Envoy
with many examples per operation, every phase, and the same checks as the
seeded run in CI (tests/test_openapi.py): no 5xx, documented statuses,
content types and response bodies.

    .venv/bin/python bench/fuzz.py [--max-examples 500] [--seed N]
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "src"), str(ROOT / "gen"), str(ROOT / "tests")]

from run import API_KEY, SERVER_ENV, free_port, process  # noqa: E402
from test_openapi import FUZZ_CHECKS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=500)
    parser.add_argument("--seed", type=int, help="reproduce an earlier run")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="agent-runtime-fuzz-"))
    http_port, grpc_port = free_port(), free_port()
    command = [
        str(pathlib.Path(sys.executable).parent / "agent-runtime"), "serve", "--http-port", str(http_port),
        "--grpc-port", str(grpc_port), "--data-dir", str(work),
    ]
    with process(command, SERVER_ENV, work / "server.log", ready="ready"):
        fuzz = [
            str(pathlib.Path(sys.executable).parent / "schemathesis"), "run", f"http://127.0.0.1:{http_port}/openapi.json",
            "--header", f"x-api-key: {API_KEY}", "--checks", FUZZ_CHECKS, "--max-examples", str(args.max_examples),
        ]
        if args.seed is not None:
            fuzz += ["--seed", str(args.seed)]
        result = subprocess.run(fuzz, cwd=ROOT)
    print(f"server log: {work / 'server.log'}")
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
