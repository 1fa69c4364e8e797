"""tests/ports.py: the ports test servers get are this worker's own, free,
and never handed out twice while the worker's block lasts."""

from __future__ import annotations

import socket

from ports import WORKER_PORTS, free_port


def test_ports_are_distinct_and_below_the_ephemeral_range():
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    # Linux hands out 32768–60999 for port 0 and outgoing connections.
    assert all(20000 <= port < 32768 and port in WORKER_PORTS for port in ports)


def test_a_port_in_use_is_never_handed_out():
    held = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", held))
        holder.listen()
        # Once round the whole block: the held port comes up and is skipped.
        handed_out = {free_port() for _ in range(len(WORKER_PORTS))}
    assert held not in handed_out
