"""Finding a test command's processes on the host. Inside the sandbox a
command sees its own PID namespace, so the pids it prints mean nothing
outside: tests give their processes a unique argument and look for it in
/proc instead."""

from __future__ import annotations

import os
import pathlib
import random


def unique_sleep() -> str:
    """A `sleep` argument no other process on the machine has (a long
    duration with random decimals)."""
    return f"{300 + random.random():.9f}"


def host_processes(marker: str) -> list[int]:
    """Live (non-zombie) host processes whose command line contains
    `marker`, other than the caller."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                arguments = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in arguments and state != "Z":
            found.append(int(entry))
    return found


def children(pid: int) -> list[int]:
    """Live child processes of `pid` (zombies left out)."""
    found = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found
