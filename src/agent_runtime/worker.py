"""`python -m agent_runtime.worker`: one worker of `serve --workers N`
(worker_pool.py). Its parent writes one JSON line on its stdin: the
settings it takes on top of the environment (the parent's flags, its own
ports) and the gateway secret. Secrets come this way, not in the
environment or the command line, where other processes of the user could
read them."""

from __future__ import annotations

import json
import pathlib
import sys

from agent_runtime.cli import run_server
from agent_runtime.config import Settings
from agent_runtime.logs import configure_logging
from agent_runtime.server import WorkerRole, serve


def worker_settings(spec: dict) -> Settings:
    return Settings.from_env().replace(
        data_dir=pathlib.Path(spec["data_dir"]),
        server={"grpc_port": spec["grpc_port"], "bridge_port": spec["bridge_port"]},
        auth={"allow_anonymous_local": spec["allow_anonymous_local"]},
    )


def main() -> None:
    spec = json.loads(sys.stdin.readline())
    settings = worker_settings(spec)
    configure_logging(settings.log_level)
    run_server(serve(settings, WorkerRole(spec["gateway_secret"], spec["index"])), f"worker {spec['index']}: ")


if __name__ == "__main__":
    main()
