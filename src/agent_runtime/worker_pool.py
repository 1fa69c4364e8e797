"""`agent-runtime serve --workers N`: N server processes behind one Envoy.

The parent holds the data dir's lock, starts the workers (worker.py; each a
whole server on its own gRPC port with its own WebSocket bridge, all on the
same PostgreSQL database) and runs Envoy, which balances over them (least
request), checks their health (a draining worker answers NOT_SERVING) and
retries elsewhere what no worker took. The parent is crash-only: a worker
that exits is started again with back-off; the workers and Envoy die with
the parent (parent-death signal) and are recorded in the data dir, so a
start after a crash ends what was left (server.claimed_data_dir). SIGTERM: Envoy stops accepting
connections, every worker drains and stops, then Envoy stops."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import signal
import socket
import sys
import time

import structlog

from agent_runtime import __version__
from agent_runtime.config import Settings
from agent_runtime.gateway.http_front import HttpFront
from agent_runtime.lifecycle import WORKER_RECORDS_DIR, ChildRecord, RestartBackoff, StartupError, dying_with_parent
from agent_runtime.server import check_port_free, claimed_data_dir

log = structlog.get_logger(__name__)

# Seconds a worker has to say it is ready (it migrates the database first).
READY_TIMEOUT_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class WorkerPorts:
    grpc: int
    bridge: int


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_ports(settings: Settings, count: int) -> list[WorkerPorts]:
    """GRPC_PORT, GRPC_PORT+1, …: the first worker keeps the configured
    port for native gRPC clients that do not go through Envoy. Ports stay
    with their worker across restarts, so Envoy's config never changes."""
    base = settings.server.grpc_port
    return [
        WorkerPorts(base + index if base else _free_loopback_port(), _free_loopback_port()) for index in range(count)
    ]


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


class WorkerProcess:
    """One worker, started again whenever it exits while wanted, after a
    delay that grows while it keeps exiting (lifecycle.RestartBackoff)."""

    def __init__(self, index: int, spec: dict, record: ChildRecord, healthy_after_seconds: float = 60.0):
        self.index = index
        self._spec = spec
        self._record = record
        self._healthy_after = healthy_after_seconds
        self._process: asyncio.subprocess.Process | None = None
        self._spawned_at = 0.0
        self._watcher: asyncio.Task | None = None
        self._stdout_reader: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        await self._spawn()
        if not await self._ready():
            code = await self._process.wait()
            raise StartupError(f"worker {self.index} exited with code {code} while starting (its error above says why)")
        self._watcher = asyncio.create_task(self._watch(), name=f"worker-{self.index}")

    async def _spawn(self) -> None:
        command = [sys.executable, "-m", "agent_runtime.worker"]
        self._process = await asyncio.create_subprocess_exec(
            *dying_with_parent(command), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        self._spawned_at = time.monotonic()
        self._record.write(self._process.pid)
        self._process.stdin.write(json.dumps(self._spec).encode() + b"\n")
        await self._process.stdin.drain()
        self._process.stdin.close()
        log.info("worker.started", index=self.index, pid=self._process.pid, grpc_port=self._spec["grpc_port"])

    async def _ready(self) -> bool:
        """True once the worker printed its ready line; False when it exited
        (or said nothing for READY_TIMEOUT_SECONDS, then it is killed)."""
        process = self._process
        try:
            line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT_SECONDS)
        except asyncio.TimeoutError:
            process.kill()
            return False
        if b"ready" not in line:
            return False
        # Its stdout has nothing more to say; read it so that it never fills.
        self._stdout_reader = asyncio.create_task(_discard(process.stdout))
        return True

    async def _watch(self) -> None:
        backoff = RestartBackoff(self._healthy_after)
        while not self._stopping:
            code = await self._process.wait()
            if self._stopping:
                return
            delay = backoff.after_exit(time.monotonic() - self._spawned_at)
            log.error("worker.exited", index=self.index, code=code, restart_in_s=delay)
            await asyncio.sleep(delay)
            if self._stopping:
                return
            await self._spawn()
            if await self._ready():
                log.info("worker.restarted", index=self.index, pid=self._process.pid)

    async def stop(self, timeout: float) -> None:
        """SIGTERM (the worker drains), SIGKILL after `timeout`."""
        self._stopping = True
        if self._watcher:
            self._watcher.cancel()
        process = self._process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except asyncio.TimeoutError:
                log.warning("worker.killed", index=self.index, pid=process.pid, after_s=timeout)
                process.kill()
                await process.wait()
        self._record.clear()


class WorkerPool:
    def __init__(self, settings: Settings, count: int):
        self._settings = settings
        self.ports = worker_ports(settings, count)
        self._gateway_secret = secrets.token_urlsafe(32)
        records = settings.data_dir / WORKER_RECORDS_DIR
        records.mkdir(mode=0o700, exist_ok=True)
        self.workers = [
            WorkerProcess(index, self._spec(index, ports), ChildRecord(records / f"worker-{index}.pid"))
            for index, ports in enumerate(self.ports)
        ]
        self.front = HttpFront(
            settings.server, settings.data_dir, log_level=settings.log_level, gateway_secret=self._gateway_secret
        )

    def _spec(self, index: int, ports: WorkerPorts) -> dict:
        return {
            "index": index,
            "data_dir": str(self._settings.data_dir),
            "allow_anonymous_local": self._settings.auth.allow_anonymous_local,
            "grpc_port": ports.grpc,
            "bridge_port": ports.bridge,
            "gateway_secret": self._gateway_secret,
        }

    async def start(self) -> None:
        for ports in self.ports[1:]:
            check_port_free(self._settings.server.grpc_host, ports.grpc, "gRPC")
        results = await asyncio.gather(*(worker.start() for worker in self.workers), return_exceptions=True)
        failed = [result for result in results if isinstance(result, BaseException)]
        if failed:
            raise failed[0]
        await self.front.start_balanced([p.grpc for p in self.ports], [p.bridge for p in self.ports])

    async def stop(self) -> None:
        """Envoy stops accepting connections, every worker drains and stops,
        then Envoy stops."""
        await self.front.drain()
        grace = self._settings.server.shutdown_grace_seconds + 10
        await asyncio.gather(*(worker.stop(grace) for worker in self.workers))
        await self.front.stop()


async def serve_workers(settings: Settings, count: int) -> None:
    with claimed_data_dir(settings):
        pool = WorkerPool(settings, count)
        try:
            await pool.start()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            grpc_ports = ",".join(str(p.grpc) for p in pool.ports)
            print(
                f"agent-runtime {__version__} ready: {count} workers, gRPC {settings.server.grpc_host}:{grpc_ports}, "
                f"HTTP {pool.front.url}",
                flush=True,
            )
            await stop.wait()
            log.info("server.stopping", workers=count)
        finally:
            await pool.stop()
        log.info("server.stopped")
