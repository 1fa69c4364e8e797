#!/usr/bin/env python3
"""What Envoy's `delayed_close_timeout` costs and protects (issue 19).

Starts agent-runtime, then for each timeout a second Envoy with the server's
own rendered config and only that setting changed (bench/side_envoy.py), and
measures through it:
- how long a /ws client's close takes (websockets' client: close frame, the
  bridge's answer, then the TCP close), for clients closed one after another;
- whether a client still sending its request body gets Envoy's early error
  reply: 413 for a body over MAX_REQUEST_BYTES (10 MiB: answered once that
  much is in), and the Lua filter's 415 for a body that is not JSON
  (answered from the headers, before any body is read). Sent by httpx as
  fast as loopback takes it, and by a plain socket at a pace (a slower
  network), so that it still sends for a while after the reply; it reads
  only after sending all, as simple clients do.

    .venv/bin/python bench/ws_close.py [--clients 12] [--timeouts 1s,0.1s,0s]
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import shutil
import socket
import statistics
import sys
import tempfile
import time

import httpx
from websockets.asyncio.client import connect

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from run import API_KEY, runtime_server  # noqa: E402
from side_envoy import side_envoy  # noqa: E402

BODY_MIB = (16, 32, 128)
# (what, content type, MiB sent, MiB per second): the seconds of sending
# left after Envoy's reply are in the label.
PACED = (
    ("415, 0.5 s left to send", "text/plain", 4, 8),
    ("413, 0.2 s left", "application/json", 16, 32),
    ("413, 1.7 s left", "application/json", 64, 32),
)


async def close_times(url: str, clients: int) -> list[float]:
    """Seconds each close took, clients closed one after another."""
    sockets = []
    for _ in range(clients):
        socket = await connect(url.replace("http", "ws", 1) + "/ws", additional_headers={"x-api-key": API_KEY})
        await socket.recv()  # connected
        sockets.append(socket)
    times = []
    for socket in sockets:
        started = time.perf_counter()
        await socket.close()
        times.append(time.perf_counter() - started)
    return times


def early_reply(url: str, path: str, content_type: str, mib: int) -> str:
    """The status the client read, or the error it got instead."""
    body = b"{" + b" " * (mib * 1024 * 1024) + b"}"
    try:
        response = httpx.post(
            url + path, content=body, headers={"x-api-key": API_KEY, "content-type": content_type}, timeout=30
        )
        return str(response.status_code)
    except httpx.HTTPError as error:
        return type(error).__name__


def paced_reply(url: str, path: str, content_type: str, mib: int, mib_per_second: float) -> str:
    """A client that sends its body at a pace and reads the answer after:
    the status it read, and whether its sending ended in a reset."""
    host, port = url.removeprefix("http://").split(":")
    chunk = b" " * (256 * 1024)
    chunks = mib * 4
    reset = ""
    with socket.create_connection((host, int(port))) as client:
        client.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nx-api-key: {API_KEY}\r\ncontent-type: {content_type}\r\n"
            f"content-length: {chunks * len(chunk)}\r\n\r\n".encode()
        )
        started = time.monotonic()
        try:
            for index in range(chunks):
                client.sendall(chunk)
                time.sleep(max(0.0, started + (index + 1) / (4 * mib_per_second) - time.monotonic()))
        except OSError as error:
            reset = f" ({type(error).__name__} while sending)"
        client.settimeout(5)
        try:
            answer = client.recv(4096)
        except OSError as error:
            return f"no reply: {type(error).__name__}{reset}"
    return (answer.split(b" ", 2)[1].decode() if answer else "no reply: closed") + reset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=12, help="/ws clients closed one after another (default 12)")
    parser.add_argument("--timeouts", default="1s,0.1s,0s", help="delayed_close_timeout values (default 1s,0.1s,0s)")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="agent-runtime-close-"))
    rows = []
    try:
        with runtime_server(None, work, "server") as (_, _, _):
            for timeout in args.timeouts.split(","):
                with side_envoy(work / "server", work, delayed_close_timeout=timeout) as (url, _):
                    times = asyncio.run(close_times(url, args.clients))
                    too_large = [early_reply(url, "/sessions", "application/json", mib) for mib in BODY_MIB]
                    not_json = [early_reply(url, "/sessions", "text/plain", mib) for mib in BODY_MIB]
                    paced = [paced_reply(url, "/sessions", kind, mib, pace) for _, kind, mib, pace in PACED]
                rows.append(
                    f"| {timeout} | {statistics.median(times) * 1000:.1f} / {max(times) * 1000:.1f} "
                    f"| {', '.join(too_large)} | {', '.join(not_json)} | {'; '.join(paced)} |"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sizes = ", ".join(f"{mib}" for mib in BODY_MIB)
    print(f"| delayed_close_timeout | /ws close ms, median / max of {args.clients} | "
          f"httpx, over-limit JSON body of {sizes} MiB: got | httpx, non-JSON body of {sizes} MiB: got "
          f"| paced socket client ({'; '.join(label for label, *_ in PACED)}): got |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
