"""Ports for the servers tests start (Envoy, child `serve` processes).

A port picked by binding port 0 is free only until the socket closes: under
pytest-xdist another worker's server, or any outgoing connection, may be
handed the same ephemeral port before Envoy binds it. So each worker draws
from its own block below the kernel's ephemeral range (Linux 32768–60999,
macOS 49152–65535), where neither the kernel nor another worker hands ports
out, and never gives the same port twice."""

from __future__ import annotations

import itertools
import os
import random
import socket

_FIRST = 20000
_LAST = 32000


def _worker_ports() -> list[int]:
    """This worker's block, starting at a random place in it so that two
    test runs on one machine (two checkouts) rarely walk the same ports."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    size = (_LAST - _FIRST) // workers
    block = list(range(_FIRST + index * size, _FIRST + (index + 1) * size))
    offset = random.randrange(size)
    return block[offset:] + block[:offset]


WORKER_PORTS = _worker_ports()
_candidates = itertools.cycle(WORKER_PORTS)


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A loopback port nobody listens on, from this worker's block; the
    same port comes back only after the whole block was handed out."""
    for port in itertools.islice(_candidates, len(WORKER_PORTS)):
        if _bindable(port):
            return port
    raise RuntimeError(f"no free port in {WORKER_PORTS[0]}..{WORKER_PORTS[-1]}")
