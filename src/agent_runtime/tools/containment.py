"""Containment of agent commands: every process a run starts (commands, git)
runs in a sandbox that sees the system read-only, the project as the only
writable place, a private /tmp, no network, its own PID namespace, and none
of the server's own paths (data dir, database, JWT key, other projects).

Linux uses bubblewrap, macOS sandbox-exec with a profile of the same rules.
With neither working, commands are refused (fail closed) unless an
administrator set SANDBOX=none. See README "Security model"."""

from __future__ import annotations

import os
import pathlib
import shutil
import stat
import subprocess
import sys
from typing import Iterable

import structlog

from agent_runtime.config import SandboxSettings
from agent_runtime.tools.pids_cgroup import PidsCgroups
from agent_runtime.tools.sandbox import ToolError

log = structlog.get_logger(__name__)

# Directories every command gets empty and private (per command).
PRIVATE_DIRS = ("/tmp", "/var/tmp", "/run")
# Where a system keeps files only root may read (password hashes, TLS keys,
# logs); a command running as root (without capabilities, but the owner)
# could read them, so they are covered too.
ROOT_ONLY_SEARCH = ("/etc", "/var/log", "/var/backups", "/var/lib")
ROOT_ONLY_DEPTH = 3
PROBE_TIMEOUT_SECONDS = 10


def _real(path: str | os.PathLike) -> str:
    return os.path.realpath(os.path.abspath(path))


def _depth(path: str) -> int:
    return len(pathlib.PurePath(path).parts)


def _inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def root_only_paths(roots: Iterable[str] = ROOT_ONLY_SEARCH) -> list[str]:
    """Files and directories under `roots` owned by root that others may
    not read (directories: not enter)."""
    found = []
    for root in roots:
        base = _depth(root)
        for directory, dirs, files in os.walk(root):
            for name in [*dirs, *files]:
                path = os.path.join(directory, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                closed = not info.st_mode & (stat.S_IXOTH if stat.S_ISDIR(info.st_mode) else stat.S_IROTH)
                if info.st_uid == 0 and closed and (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
                    found.append(path)
            covered = set(found)
            dirs[:] = [d for d in dirs if os.path.join(directory, d) not in covered and _depth(directory) - base < ROOT_ONLY_DEPTH - 1]
    return found


def bubblewrap_argv(
    bwrap: str, settings: SandboxSettings, project: str, hidden: Iterable[str], *, network: bool
) -> list[str]:
    """The bwrap command line up to the command. Mounts are applied in order
    of depth, so a project inside a hidden directory is bound again after
    the directory is covered, and a hidden directory inside the project is
    covered after the project is bound."""
    project = _real(project)
    mounts: list[tuple[str, list[str]]] = [(p, ["--tmpfs", p]) for p in PRIVATE_DIRS if os.path.isdir(p)]
    for path in sorted({_real(p) for p in hidden}):
        if path == project or not os.path.exists(path):
            continue
        cover = ["--tmpfs", path] if os.path.isdir(path) else ["--ro-bind", "/dev/null", path]
        mounts.append((path, cover))
    if network:
        # /etc/resolv.conf often links into /run, which is private.
        resolver = _real("/etc/resolv.conf")
        if os.path.exists(resolver) and any(_inside(resolver, p) for p in PRIVATE_DIRS):
            mounts.append((resolver, ["--ro-bind", resolver, resolver]))
    mounts.append((project, ["--bind", project, project]))
    mounts.sort(key=lambda mount: _depth(mount[0]))
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for _, options in mounts:
        argv += options
    argv += ["--unshare-all", *(["--share-net"] if network else []), "--cap-drop", "ALL"]
    argv += ["--die-with-parent", "--new-session", "--hostname", "sandbox", "--chdir", project, "--"]
    return argv + settings.prlimit_argv()


def _seatbelt_quote(path: str) -> str:
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def seatbelt_profile(project: str, hidden: Iterable[str], *, network: bool) -> str:
    """A sandbox-exec profile with the bubblewrap rules: read everything but
    the hidden paths, write only the project and the temp dirs, no network
    unless allowed. (macOS has no PID namespace: the process group is what
    dies with the command.)"""
    project = _real(project)
    denied = "\n".join(f"(deny file-read* (subpath {_seatbelt_quote(_real(p))}))" for p in hidden if _real(p) != project)
    return "\n".join(
        [
            "(version 1)",
            "(deny default)",
            "(allow process-fork process-exec signal sysctl-read mach-lookup ipc-posix-shm)",
            "(allow file-read*)",
            denied,
            f"(allow file-read* file-write* (subpath {_seatbelt_quote(project)}))",
            '(allow file-write* (subpath "/private/tmp") (subpath "/private/var/folders") (literal "/dev/null"))',
            "(allow network*)" if network else "",
        ]
    )


class Sandbox:
    """Wraps command lines in the configured sandbox. `detect` probes once
    whether it works; `state` is what /health shows: bubblewrap,
    sandbox-exec, none (an administrator turned containment off) or
    unavailable (commands are refused; `problem` says why and how to fix)."""

    def __init__(self, settings: SandboxSettings, hidden: Iterable[str], state: str, problem: str = "", tool: str = ""):
        self.settings = settings
        self.hidden = tuple(_real(p) for p in hidden)
        self.state = state
        self.problem = problem
        self._tool = tool
        self._cgroups = PidsCgroups.find() if state == "bubblewrap" else None

    @classmethod
    def detect(cls, settings: SandboxSettings, hidden: Iterable[str] = ()) -> "Sandbox":
        hidden = tuple(hidden)
        if settings.mode == "none":
            return cls(settings, hidden, "none")
        kind = settings.mode if settings.mode != "auto" else "sandbox-exec" if sys.platform == "darwin" else "bubblewrap"
        if kind == "sandbox-exec":
            tool = shutil.which("sandbox-exec")
            if tool is None:
                return cls(settings, hidden, "unavailable", "sandbox-exec was not found (it ships with macOS)")
            return cls(settings, hidden, kind, tool=tool)
        if os.geteuid() == 0:
            hidden += tuple(root_only_paths())
        tool = shutil.which(settings.bwrap)
        if tool is None:
            return cls(settings, hidden, "unavailable", f"bubblewrap ({settings.bwrap}) was not found: install it (apt-get install -y bubblewrap)")
        problem = _probe(bubblewrap_argv(tool, settings, "/", (), network=False) + ["true"])
        if problem:
            return cls(settings, hidden, "unavailable", f"bubblewrap cannot create its namespaces here ({problem})")
        return cls(settings, hidden, kind, tool=tool)

    @property
    def contains(self) -> bool:
        return self.state in ("bubblewrap", "sandbox-exec")

    def refusal(self) -> str:
        return (
            f"commands are disabled: no sandbox is available ({self.problem}). "
            "An administrator can fix this, or run commands uncontained with SANDBOX=none"
        )

    def wrap(self, argv: list[str], project: str, *, network: bool = False, cgroup: str | None = None) -> list[str]:
        """`argv` as it runs contained in `project`; ToolError when no
        sandbox is available."""
        if self.state == "none":
            return argv
        if self.state == "unavailable":
            raise ToolError(self.refusal())
        if self.state == "sandbox-exec":
            return [self._tool, "-p", seatbelt_profile(project, self.hidden, network=network), *argv]
        wrapped = bubblewrap_argv(self._tool, self.settings, project, self.hidden, network=network) + argv
        return PidsCgroups.enter_argv(cgroup, wrapped) if cgroup else wrapped

    def new_cgroup(self) -> str | None:
        """A process-count cgroup for one command where the kernel offers
        one: RLIMIT_NPROC does not bind root, so as root it is what bounds
        a fork bomb."""
        if self._cgroups is None:
            return None
        try:
            return self._cgroups.create(self.settings.max_processes)
        except OSError as error:
            log.warning("sandbox.cgroup_failed", error=str(error))
            return None

    def drop_cgroup(self, cgroup: str | None) -> None:
        if cgroup and self._cgroups:
            self._cgroups.remove(cgroup)

    def announce(self) -> None:
        """The start-up log line: loud when commands run uncontained or are
        refused."""
        if self.state == "none":
            log.warning(
                "sandbox.disabled",
                message="SANDBOX=none: agent commands run UNCONTAINED as the server's user and can read its secrets",
            )
        elif self.state == "unavailable":
            log.warning(
                "sandbox.unavailable",
                message=f"agent commands will be refused: {self.problem}; or set SANDBOX=none to run them uncontained",
            )
        else:
            log.info(
                "sandbox.active",
                sandbox=self.state,
                network=self.settings.network,
                process_cgroup=self._cgroups is not None,
            )


def _probe(argv: list[str]) -> str:
    """'' when the command ran, else bwrap's reason."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    return ""
