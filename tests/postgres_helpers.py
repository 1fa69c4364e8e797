"""A throwaway PostgreSQL server for the tests: the machine's own binaries
(scripts/ensure-postgres installs Debian's when missing), a cluster in a
temporary directory, a free loopback port, and nothing left behind after.

PostgreSQL refuses to run as root, so when the tests run as root the cluster
belongs to the `postgres` user and its processes run as that user."""

from __future__ import annotations

import contextlib
import glob
import os
import pathlib
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from typing import Iterator

import asyncpg

# The clusters' directories, so a test can find a server's processes by
# their command line (process_helpers.host_processes).
CLUSTER_PREFIX = "agent-runtime-pg-"
START_TIMEOUT_SECONDS = 30


def postgres_bin_dir() -> pathlib.Path | None:
    """The newest installed PostgreSQL's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if found:
        return pathlib.Path(found[-1]).parent
    on_path = shutil.which("postgres")
    return pathlib.Path(on_path).parent if on_path else None


def _run_as() -> dict:
    """subprocess arguments that drop root to `postgres`; none otherwise."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """initdb + postgres in `directory`; `dsn` connects as the superuser
    `postgres` over loopback (trust authentication: the port is bound to
    127.0.0.1 and the cluster lives only as long as the test session)."""

    def __init__(self, bin_dir: pathlib.Path):
        self._bin = bin_dir
        # Not under pytest's tmp dirs: their parents are private to root,
        # and the server runs as `postgres`.
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix=CLUSTER_PREFIX))
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        data = self.directory / "data"
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        self._initdb(data)
        self.port = _free_port()
        log = open(self.directory / "server.log", "ab")
        with log:
            self.process = subprocess.Popen(
                [
                    self._bin / "postgres", "-D", data, "-p", str(self.port),
                    "-c", "listen_addresses=127.0.0.1",
                    "-c", f"unix_socket_directories={self.directory}",
                    # A throwaway cluster: durability is not what is tested.
                    "-c", "fsync=off",
                    "-c", "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                **_run_as(),
            )
        self._wait_until_ready()

    def _initdb(self, data: pathlib.Path) -> None:
        """initdb, tried a second time if it was killed by a signal: it died
        by SIGSEGV once in about fifty starts on a loaded machine (full runs
        of the suite here),
        which is no finding about the code under test."""
        command = [self._bin / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync"]
        for attempt in range(2):
            result = subprocess.run(command, capture_output=True, **_run_as())
            if result.returncode == 0:
                return
            if result.returncode > 0 or attempt:
                raise RuntimeError(f"initdb failed ({result.returncode}): {result.stderr.decode(errors='replace')[-2000:]}")
            shutil.rmtree(data, ignore_errors=True)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited at start: {self.log_tail()}")
            ready = subprocess.run(
                [self._bin / "pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"postgres did not accept connections in {START_TIMEOUT_SECONDS} s: {self.log_tail()}")

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.directory / "server.log").read_text(errors="replace")[-2000:]
        return ""

    def stop(self) -> None:
        """Fast shutdown (SIGINT: sessions ended, no waiting for clients);
        the postmaster exits after its children. Then the cluster goes."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL is not installed (scripts/ensure-postgres installs it)")
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


async def create_database(server_dsn: str) -> str:
    """A new, empty database on the server; its DSN."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    connection = await asyncpg.connect(server_dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return server_dsn.rsplit("/", 1)[0] + f"/{name}"
