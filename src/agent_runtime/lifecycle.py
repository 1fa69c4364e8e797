"""What keeps one server process the only owner of its data directory and
its children: an exclusive lock on the data dir, and child processes that
die with the server (a parent-death signal) and are recorded so that the
next start can end one left behind."""

from __future__ import annotations

import fcntl
import os
import pathlib
import signal
import sys
import time

import structlog

log = structlog.get_logger(__name__)

LOCK_FILE_NAME = "agent-runtime.lock"


class DataDirBusy(Exception):
    """Another process holds the data directory's lock."""


class DataDirLock:
    """An exclusive `flock` on `<data dir>/agent-runtime.lock`, held for the
    process lifetime (the kernel drops it when the process dies, also on
    kill -9). The file names the holder's pid for the error of a second
    server."""

    def __init__(self, data_dir: pathlib.Path):
        self.path = data_dir / LOCK_FILE_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirBusy(
                f"data dir {self.path.parent} is in use by another agent-runtime (pid {holder}): "
                "stop it first, or give this one another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def dying_with_parent(command: list[str]) -> list[str]:
    """`command` made to die with this process (Linux: through the
    die_with_parent wrapper, the parent-death signal set by the thread that
    spawns it, so spawn from the event loop's thread, which lives as long as
    the server); elsewhere `command` as it is."""
    if not sys.platform.startswith("linux"):
        return command
    return [sys.executable, "-m", "agent_runtime.die_with_parent", str(os.getpid()), *command]


def process_start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of
    /proc/PID/stat): with the pid it names one process, never a reused pid."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after it don't.
    state, *fields = stat.rsplit(")", 1)[1].split()
    # A zombie holds no ports or files any more, once its other threads
    # (which keep its files open) are gone too: as good as gone then.
    if state == "Z" and len(_listdir(f"/proc/{pid}/task")) <= 1:
        return None
    return fields[18]


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


class ChildRecord:
    """A file naming a child process (pid and start time), so that a start
    after a crash can end the child the crashed server left running."""

    def __init__(self, path: pathlib.Path):
        self.path = path

    def write(self, pid: int) -> None:
        started = process_start_time(pid)
        if started is not None:
            self.path.write_text(f"{pid} {started}\n")

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def end_stale(self, timeout: float = 5.0) -> int | None:
        """Kills the recorded process if it is still the one recorded;
        returns its pid then, else None."""
        try:
            pid_text, started = self.path.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        if process_start_time(pid) != started:
            self.clear()
            return None
        log.warning("process.stale_child_ended", pid=pid, record=str(self.path))
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while process_start_time(pid) == started and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        self.clear()
        return pid


# Where `serve --workers N` records its workers (worker_pool.py).
WORKER_RECORDS_DIR = "workers"


def end_stale_workers(data_dir: pathlib.Path) -> None:
    """Ends the workers a crashed `serve --workers N` of this data dir left
    running (they would hold its gRPC ports). Only call with the data dir's
    lock held."""
    for path in sorted((data_dir / WORKER_RECORDS_DIR).glob("worker-*.pid")):
        ChildRecord(path).end_stale()


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: its own parent (or init) reaps it


class RestartBackoff:
    """How long to wait before starting again a child that exited while
    wanted (Envoy, a worker): INITIAL seconds, doubling to MAX on repeated
    exits; a child that ran for `healthy_after` seconds starts it over."""

    INITIAL = 0.5
    MAX = 10.0

    def __init__(self, healthy_after: float):
        self._healthy_after = healthy_after
        self._next = self.INITIAL

    def after_exit(self, ran_for: float) -> float:
        if ran_for >= self._healthy_after:
            self._next = self.INITIAL
        delay, self._next = self._next, min(self._next * 2, self.MAX)
        return delay


class StartupError(Exception):
    """A reason the server cannot start, printed as one line."""


def replace_owner_name(owner_file: pathlib.Path, owner: str) -> str:
    """Names `owner` in `owner_file` and returns the other name it held
    ("" when none): the previous process of a data dir (or worker dir),
    gone since its lock is ours, whose leases the new one frees at once."""
    try:
        previous = owner_file.read_text().strip()
    except FileNotFoundError:
        previous = ""
    owner_file.write_text(owner)
    return "" if previous == owner else previous
