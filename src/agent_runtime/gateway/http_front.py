"""The HTTP side of the server: Envoy (REST, SSE, gRPC passthrough) and the
WebSocket bridge behind it, both in front of the gRPC server."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import time
import urllib.error
import urllib.request

import structlog

from agent_runtime.config import ServerSettings
from agent_runtime.gateway.bridge import WebSocketBridge
from agent_runtime.gateway.envoy import EnvoySupervisor, admin_socket_path, render_config
from agent_runtime.lifecycle import StartupError

log = structlog.get_logger(__name__)

# Envoy's own log at our LOG_LEVEL; its `info` is a line per config event,
# so INFO keeps it at warnings.
ENVOY_LOG_LEVELS = {"DEBUG": "debug", "INFO": "warn", "WARNING": "warn", "ERROR": "error", "CRITICAL": "critical"}
READY_TIMEOUT_SECONDS = 30


class HttpFront:
    """Started once the gRPC server serves; ready when `GET /health` answers
    200 through Envoy. Stops Envoy first, then the bridge; a stop before the
    start (or after a failed one) stops nothing."""

    def __init__(
        self,
        settings: ServerSettings,
        data_dir: pathlib.Path,
        *,
        log_level: str,
        gateway_secret: str,
        run_envoy: bool = True,
    ):
        self._settings = settings
        self._config_dir = data_dir / "envoy"
        self._envoy_log_level = ENVOY_LOG_LEVELS[log_level]
        # Envoy's proof that the client address it forwards is its own
        # (interceptors/client_address.py).
        self._gateway_secret = gateway_secret
        # False in a worker of `serve --workers N`: its parent runs Envoy.
        self._run_envoy = run_envoy
        self._parts = contextlib.AsyncExitStack()
        self._bridge: WebSocketBridge | None = None
        self._envoy: EnvoySupervisor | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._settings.http_port}"

    async def start(self, grpc_port: int) -> None:
        """The bridge to `grpc_port`, then (unless run_envoy is off) Envoy
        in front of both."""
        async with contextlib.AsyncExitStack() as parts:
            self._bridge = WebSocketBridge(f"127.0.0.1:{grpc_port}", heartbeat_seconds=self._settings.heartbeat_seconds)
            bridge_port = await self._bridge.start("127.0.0.1", self._settings.bridge_port)
            parts.push_async_callback(self._bridge.stop)
            if self._run_envoy:
                await self._start_envoy(parts, [grpc_port], [bridge_port])
            self._parts = parts.pop_all()

    async def start_balanced(self, grpc_ports: list[int], bridge_ports: list[int]) -> None:
        """Envoy alone, balancing over the workers' gRPC servers and bridges
        (`serve --workers N`, worker_pool.py)."""
        async with contextlib.AsyncExitStack() as parts:
            await self._start_envoy(parts, grpc_ports, bridge_ports)
            self._parts = parts.pop_all()

    async def _start_envoy(self, parts: contextlib.AsyncExitStack, grpc_ports: list[int], bridge_ports: list[int]) -> None:
        try:
            admin_socket = admin_socket_path(self._config_dir)
        except ValueError as error:
            raise StartupError(str(error)) from None
        self._envoy = EnvoySupervisor(
            self._write_config(grpc_ports, bridge_ports, admin_socket), admin_socket=admin_socket, log_level=self._envoy_log_level
        )
        try:
            await self._envoy.start()
        except (OSError, RuntimeError) as error:
            raise StartupError(f"Envoy cannot be started: {error}") from None
        parts.push_async_callback(self._envoy.stop)
        await self._wait_until_healthy(self.url + "/health")
        log.info("http.listening", url=self.url, compat_ports=list(self._settings.compat_ports))

    def _write_config(self, grpc_ports: list[int], bridge_ports: list[int], admin_socket: pathlib.Path) -> pathlib.Path:
        self._config_dir.mkdir(parents=True, exist_ok=True)
        # Holds the admin socket: only the server's user may enter.
        self._config_dir.chmod(0o700)
        config_path = self._config_dir / "envoy.yaml"
        # Only the server's user may read it: it holds the gateway secret.
        config_path.unlink(missing_ok=True)
        config_path.touch(mode=0o600)
        config_path.write_text(
            render_config(
                self._settings,
                grpc_port=grpc_ports,
                bridge_port=bridge_ports,
                admin_socket=admin_socket,
                gateway_secret=self._gateway_secret,
            )
        )
        return config_path

    async def _wait_until_healthy(self, url: str) -> None:
        assert self._envoy is not None
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS

        def probe() -> int:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code
            except OSError:
                return 0

        while time.monotonic() < deadline:
            if await asyncio.to_thread(probe) == 200:
                return
            if self._envoy.exit_codes:
                raise StartupError(f"Envoy exited with code {self._envoy.exit_codes[0]} while starting (its log above says why)")
            await asyncio.sleep(0.1)
        raise StartupError(f"Envoy did not answer 200 on {url} within {READY_TIMEOUT_SECONDS}s")

    async def drain(self) -> None:
        """Envoy stops accepting connections; /ws clients get a resumable
        ending."""
        if self._envoy is not None:
            await self._envoy.drain()
        if self._bridge is not None:
            await self._bridge.drain()

    async def stop(self) -> None:
        await self._parts.aclose()
