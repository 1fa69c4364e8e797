"""A second Envoy with a running server's own rendered config, changed for a
measurement: its worker count (`--concurrency`), the HTTP connection
manager's `delayed_close_timeout`, or the gRPC backend it sends to (a peer
such as bench/peers/bare_grpc.py behind the very same filters). The
server's own Envoy stays up, idle; its CPU is not counted."""

from __future__ import annotations

import contextlib
import pathlib
import subprocess
import sys
import time

import httpx
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from run import free_port  # noqa: E402  (also puts src/ on the path)

from agent_runtime.gateway.envoy import envoy_binary  # noqa: E402


@contextlib.contextmanager
def side_envoy(
    data_dir: pathlib.Path,
    work: pathlib.Path,
    *,
    concurrency: int | None = None,
    delayed_close_timeout: str | None = None,
    grpc_port: int | None = None,
):
    """Yields (HTTP URL of the first listener, Envoy's pid)."""
    config = yaml.safe_load((data_dir / "envoy" / "envoy.yaml").read_text())
    name = f"side-{free_port()}"
    config["admin"]["address"]["pipe"]["path"] = str(work / f"{name}.admin")
    port = None
    for listener in config["static_resources"]["listeners"]:
        listener["address"]["socket_address"]["port_value"] = free_port()
        port = port or listener["address"]["socket_address"]["port_value"]
        for chain in listener["filter_chains"]:
            for network_filter in chain["filters"]:
                if delayed_close_timeout is not None and "http_connection_manager" in network_filter["name"]:
                    network_filter["typed_config"]["delayed_close_timeout"] = delayed_close_timeout
    if grpc_port is not None:
        [backend] = [c for c in config["static_resources"]["clusters"] if c["name"] == "grpc_backend"]
        address = backend["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
        address["socket_address"]["port_value"] = grpc_port
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [envoy_binary(), "-c", str(path), "--log-level", "error", "--disable-hot-restart", "--base-id", str(port)]
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    with open(work / f"{name}.log", "w") as log:
        envoy = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            # Any answer: Envoy listens (a bare peer has no health service).
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{url}/health", timeout=1)
                break
            if envoy.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"side Envoy did not start: {(work / f'{name}.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield url, envoy.pid
    finally:
        envoy.terminate()
        envoy.wait(timeout=10)
