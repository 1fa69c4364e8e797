"""Per-command process-count cgroups (the `pids` controller), where the
server may create them (usually as root). RLIMIT_NPROC counts per user and
never binds root, so for a server running as root this is what keeps a fork
bomb in a command from filling the machine's process table."""

from __future__ import annotations

import contextlib
import os
import pathlib
import time
import uuid

import structlog

log = structlog.get_logger(__name__)

GROUP_NAME = "agent-runtime-commands"


def _own_cgroup_dirs() -> list[pathlib.Path]:
    """Candidate directories for our commands' cgroups: under the server's
    own cgroup in the v1 `pids` hierarchy, else in the v2 hierarchy."""
    mounts: dict[str, pathlib.Path] = {}
    try:
        with open("/proc/self/mountinfo") as mountinfo:
            for line in mountinfo:
                before, _, after = line.partition(" - ")
                fstype, _, options = after.split()[:3]
                point = pathlib.Path(before.split()[4])
                if fstype == "cgroup" and "pids" in options.split(","):
                    mounts.setdefault("pids", point)
                elif fstype == "cgroup2":
                    mounts.setdefault("", point)
        with open("/proc/self/cgroup") as groups:
            own = {controllers: path for _, controllers, path in (line.rstrip("\n").split(":", 2) for line in groups)}
    except (OSError, ValueError):
        return []
    found = []
    for controllers, path in own.items():
        key = "pids" if "pids" in controllers.split(",") else "" if controllers == "" else None
        if key is not None and key in mounts:
            found.append(mounts[key] / path.lstrip("/") / GROUP_NAME)
    return found


class PidsCgroups:
    """Command cgroups live under `agent-runtime-commands/<server pid>/`, so
    that servers sharing a hierarchy never touch each other's."""

    def __init__(self, base: pathlib.Path):
        self._base = base

    @classmethod
    def find(cls) -> "PidsCgroups | None":
        """The first hierarchy where a capped cgroup can be made, or None."""
        for shared in _own_cgroup_dirs():
            try:
                base = shared / str(os.getpid())
                for level in (shared, base):
                    level.mkdir(exist_ok=True)
                    # cgroup v2 only: hand the pids controller down.
                    if (level / "cgroup.subtree_control").exists():
                        (level / "cgroup.subtree_control").write_text("+pids")
                groups = cls(base)
                groups.remove(groups.create(8))
                _remove_dead_servers(shared)
                return groups
            except OSError:
                continue
        return None

    def create(self, max_processes: int) -> str:
        path = self._base / uuid.uuid4().hex
        path.mkdir()
        (path / "pids.max").write_text(str(max_processes))
        return str(path)

    @staticmethod
    def enter_argv(cgroup: str, argv: list[str]) -> list[str]:
        """`argv` started from inside `cgroup` (the shell moves itself in,
        then execs, so the command's pid and parent stay the same)."""
        return ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, *argv]

    @staticmethod
    def remove(cgroup: str | pathlib.Path) -> None:
        # The last processes may still be exiting: retry briefly.
        for _ in range(50):
            try:
                os.rmdir(cgroup)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)
        log.warning("sandbox.cgroup_left", cgroup=str(cgroup))


def _remove_dead_servers(shared: pathlib.Path) -> None:
    """The cgroups of servers that died (kill -9) mid-command: their
    commands died with them (--die-with-parent), the directories stay."""
    for server in shared.iterdir():
        if not server.name.isdigit() or pathlib.Path(f"/proc/{server.name}").exists():
            continue
        with contextlib.suppress(OSError):
            for command in server.iterdir():
                if command.is_dir():
                    os.rmdir(command)
            os.rmdir(server)
