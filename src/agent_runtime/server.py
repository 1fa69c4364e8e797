"""Composes the runtime (storage, domain services, gRPC server, WebSocket
bridge, Envoy) and holds the `agent-runtime` CLI."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import errno
import functools
import gc
import pathlib
import secrets
import signal
import socket
import sqlite3
import sys
import time
import urllib.error
import urllib.request

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from agentruntime.v1 import agent_pb2, agent_pb2_grpc
from agentruntime.v1 import compute_pb2, compute_pb2_grpc, docs_pb2, docs_pb2_grpc, session_pb2, session_pb2_grpc
from agentruntime.v1 import identity_pb2, identity_pb2_grpc
from agentruntime.v1 import ml_pb2, ml_pb2_grpc
from agent_runtime import __version__
from agent_runtime.agents.ai_tasks import AITaskService
from agent_runtime.agents.idempotency import IdempotencyKeys
from agent_runtime.agents.runner import AgentRunner
from agent_runtime.agents.service import AgentService
from agent_runtime.agents.servicer import AgentServicer
from agent_runtime.agents.switching import AgentSwitcher
from agent_runtime.compute.facts import SystemFacts
from agent_runtime.compute.insights import InsightService, LLMInsightAnalyzer
from agent_runtime.compute.metrics import MetricsCollector
from agent_runtime.compute.registry import BackendRegistry
from agent_runtime.compute.service import ComputeLimits, ComputeService
from agent_runtime.compute.servicer import ComputeServicer
from agent_runtime.config import Settings
from agent_runtime.events.bus import EventBus
from agent_runtime.gateway.bridge import WebSocketBridge
from agent_runtime.gateway.docs import DocsServicer
from agent_runtime.gateway.envoy import EnvoySupervisor, admin_socket_path, end_stale_envoy, render_config
from agent_runtime.health import DependencyCheck, HealthReporter, MultiAgentSettings, llm_states
from agent_runtime.identity.projects import ProjectDirectories
from agent_runtime.identity.ratelimit import RateLimiter
from agent_runtime.identity.service import IdentityService
from agent_runtime.identity.servicer import IdentityServicer
from agent_runtime.identity.tokens import TokenIssuer, load_or_create_signing_key
from agent_runtime.lifecycle import DataDirBusy, DataDirLock
from agent_runtime.interceptors.auth import Admission, CredentialAuthenticator, RateLimits
from agent_runtime.interceptors.call import CallInterceptor
from agent_runtime.interceptors.client_address import ClientAddresses
from agent_runtime.interceptors.draining import Draining
from agent_runtime.llm.mlx_provider import MLXProvider
from agent_runtime.llm.registry import ProviderRegistry
from agent_runtime.logs import configure_logging
from agent_runtime.ml import inference as ml_inference
from agent_runtime.ml.service import MLService
from agent_runtime.ml.remote import remote_models
from agent_runtime.ml.servicer import MLServicer
from agent_runtime.sessions.service import SessionService
from agent_runtime.sessions.servicer import SessionServicer
from agent_runtime.storage.sqlite.agents import SqliteAgentRepository
from agent_runtime.storage.sqlite.multiagent import SqliteAgentSwitchRepository
from agent_runtime.storage.sqlite.compute import SqliteComputeRepository
from agent_runtime.storage.sqlite.database import Database, DatabaseError
from agent_runtime.storage.sqlite.identity import SqliteIdentityRepository
from agent_runtime.storage.sqlite.ml import SqliteMLRepository
from agent_runtime.storage.sqlite.sessions import SqliteSessionRepository
from agent_runtime.tools.containment import Sandbox

log = structlog.get_logger(__name__)

SERVICE_NAMES = (
    session_pb2.DESCRIPTOR.services_by_name["SessionService"].full_name,
    compute_pb2.DESCRIPTOR.services_by_name["ComputeService"].full_name,
    docs_pb2.DESCRIPTOR.services_by_name["DocsService"].full_name,
    identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name,
    ml_pb2.DESCRIPTOR.services_by_name["MLService"].full_name,
    agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name,
)


# Largest request metadata (headers) the gRPC server accepts.
MAX_METADATA_BYTES = 96 * 1024
# Envoy's own log at our LOG_LEVEL; its `info` is a line per config event,
# so INFO keeps it at warnings.
ENVOY_LOG_LEVELS = {"DEBUG": "debug", "INFO": "warn", "WARNING": "warn", "ERROR": "error", "CRITICAL": "critical"}


class StartupError(Exception):
    """A reason the server cannot start, printed as one line."""


@dataclasses.dataclass
class Runtime:
    """A running server: what tests and `serve` hold on to."""

    settings: Settings
    database: Database
    grpc_server: grpc.aio.Server
    health_servicer: health.aio.HealthServicer
    grpc_port: int
    draining: Draining
    bridge: WebSocketBridge | None = None
    bridge_port: int = 0
    envoy: EnvoySupervisor | None = None
    sessions: SessionService | None = None
    identity: IdentityService | None = None
    compute: ComputeService | None = None
    compute_metrics: MetricsCollector | None = None
    ml: MLService | None = None
    agents: AgentService | None = None
    runner: AgentRunner | None = None
    lock: DataDirLock | None = None

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    async def stop(self) -> None:
        """Drains, then stops: health NOT_SERVING and Envoy stops accepting
        connections; /ws clients and live streams get a resumable ending;
        in-flight calls get SHUTDOWN_GRACE_SECONDS to finish; then the parts
        close, Envoy last (it carries the last answers)."""
        await self.health_servicer.enter_graceful_shutdown()
        if self.envoy:
            await self.envoy.drain()
        if self.bridge:
            await self.bridge.drain()
        self.draining.begin()
        await self.grpc_server.stop(self.settings.shutdown_grace_seconds)
        if self.bridge:
            await self.bridge.stop()
        if self.compute_metrics:
            await self.compute_metrics.stop()
        if self.compute:
            await self.compute.stop()
        if self.runner:
            # Runs are cancelled at their current step and resumed on the
            # next start from what they persisted.
            await self.runner.close()
        if self.ml:
            # Running fine-tuning jobs checkpoint and resume on next start.
            await self.ml.stop(self.settings.shutdown_grace_seconds)
            ml_inference.set_default(None)
        await self.database.close()
        if self.envoy:
            await self.envoy.stop()
        if self.lock:
            self.lock.release()
        log.info("server.stopped")


def check_port_free(host: str, port: int, what: str) -> None:
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = "is already in use" if error.errno == errno.EADDRINUSE else f"cannot be bound ({error.strerror})"
            raise StartupError(f"{what} port {host}:{port} {reason}") from None


def private_data_dir(path: pathlib.Path) -> None:
    """The data dir (database, JWT key, uploads, workspaces) open to the
    server's user only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        log.warning("server.data_dir_mode_fixed", path=str(path))
        path.chmod(0o700)


def server_paths(settings: Settings) -> list[pathlib.Path]:
    """Paths agent commands must not see: the data dir, the database's
    directory, the configured project roots and default workspace (a
    command's own project inside them is bound again), and the server
    user's home (credentials of other tools)."""
    paths = [settings.data_dir, settings.database_path.parent, pathlib.Path.home()]
    paths += [pathlib.Path(root) for root in settings.agents.project_roots]
    if settings.agents.default_workspace:
        paths.append(pathlib.Path(settings.agents.default_workspace))
    return [path for path in paths if path.resolve() != pathlib.Path("/")]


def sandbox_state(sandbox: Sandbox):
    async def state() -> dict[str, str]:
        return {"sandbox": sandbox.state}

    return state


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def start_runtime(settings: Settings) -> Runtime:
    """Starts everything `settings` asks for and returns once `GET /health`
    answers 200 through Envoy (or the gRPC server serves, with no Envoy).
    A failing step closes everything opened before it and raises
    StartupError with one line that says what failed."""
    try:
        settings.check()
    except ValueError as error:
        raise StartupError(str(error)) from None
    async with contextlib.AsyncExitStack() as opened:
        runtime = await _start(settings, opened)
        # Started: from here on Runtime.stop closes everything, in order.
        opened.pop_all()
        return runtime
    raise AssertionError("unreachable")


async def _start(settings: Settings, opened: contextlib.AsyncExitStack) -> Runtime:
    lock = DataDirLock(settings.data_dir)
    try:
        # Before the lock file: created by it, the dir would get the umask's mode.
        private_data_dir(settings.data_dir)
        lock.acquire()
    except (DataDirBusy, OSError) as error:
        raise StartupError(str(error)) from None
    opened.callback(lock.release)
    if settings.run_envoy:
        # The lock is ours, so an Envoy recorded in this data dir was left by
        # a server that died: end it before checking its ports.
        end_stale_envoy(settings.data_dir / "envoy")
    check_port_free(settings.grpc_host, settings.grpc_port, "gRPC")
    if settings.run_envoy:
        for port in (settings.http_port, *settings.compat_ports):
            check_port_free(settings.http_host, port, "HTTP")

    sandbox = await asyncio.to_thread(Sandbox.detect, settings.agents.sandbox, server_paths(settings))
    sandbox.announce()
    try:
        database = await Database.open(settings.database_path)
    except (DatabaseError, sqlite3.Error, OSError) as error:
        # SQLite's own words, not the per-request advice DatabaseError adds.
        reason = error.__cause__ if isinstance(error, DatabaseError) and error.__cause__ else error
        raise StartupError(f"database {settings.database_path}: {reason}") from None
    opened.push_async_callback(database.close)
    bus: EventBus = EventBus()
    sessions = SessionService(SqliteSessionRepository(database), bus)
    directories = ProjectDirectories(
        settings.agents.project_roots, settings.data_dir / "workspaces", settings.agents.default_workspace
    )
    health_reporter = HealthReporter(MultiAgentSettings(settings.agents.multi_agent_enabled, settings.agents.default_agent))
    try:
        signing_key = (
            settings.jwt_secret.encode() if settings.jwt_secret else load_or_create_signing_key(settings.jwt_key_path)
        )
    except (OSError, ValueError) as error:
        raise StartupError(f"JWT signing key: {error}") from None
    identity = IdentityService(
        SqliteIdentityRepository(database), TokenIssuer(signing_key, settings.jwt_expires_seconds)
    )
    ml = MLService(
        SqliteMLRepository(database),
        settings.data_dir,
        max_file_bytes=settings.ml_max_file_bytes,
        max_concurrent_jobs=settings.ml_max_concurrent_jobs,
    )
    await ml.start()
    opened.push_async_callback(ml.stop, 0)
    ml_inference.set_default(ml_inference.LocalInference(ml.locate))
    opened.callback(ml_inference.set_default, None)
    agent_repository = SqliteAgentRepository(database)
    llm_registry = ProviderRegistry.from_config(settings.agents)
    ml.remote_models = functools.partial(remote_models, llm_registry)
    # Registered MLX models as the `mlx` provider (see llm/mlx_provider.py).
    mlx_provider = MLXProvider(ml.list_local_models, ml_inference.stream_chat)
    ml.model_listeners.append(mlx_provider.model_registered)
    await mlx_provider.refresh()
    llm_registry.add(mlx_provider)
    task_bus: EventBus = EventBus()
    switcher = AgentSwitcher(SqliteAgentSwitchRepository(database), sessions, settings.agents)
    runner = AgentRunner(
        agent_repository,
        llm_registry,
        sessions,
        task_bus,
        settings.agents,
        sandbox=sandbox,
        commands_dir=settings.data_dir / "commands",
        max_concurrent_runs=settings.agents.max_concurrent_runs,
        switcher=switcher,
    )
    agents = AgentService(
        agent_repository,
        sessions,
        llm_registry,
        runner,
        task_bus,
        settings.agents,
        directories=directories,
        switcher=switcher,
    )
    idempotency = IdempotencyKeys(agent_repository)
    await idempotency.purge()

    async def database_state() -> dict[str, str]:
        return {"database": "connected" if await database.ping() else "disconnected"}

    async def llm_state() -> dict[str, str]:
        return llm_states(await llm_registry.reachability(settings.health_check_timeout_seconds))

    cache = settings.health_cache_seconds
    timeout = settings.health_check_timeout_seconds
    health_reporter.add_dependency(DependencyCheck(("database",), database_state, timeout_seconds=timeout, cache_seconds=cache))
    # Each provider's probe is bounded by the timeout; the whole check gets
    # twice that as a safety net.
    health_reporter.add_dependency(DependencyCheck(("llm_proxy",), llm_state, timeout_seconds=2 * timeout, cache_seconds=cache))
    health_reporter.add_dependency(DependencyCheck(("sandbox",), sandbox_state(sandbox), timeout_seconds=timeout, cache_seconds=cache))

    compute_repository = SqliteComputeRepository(database)
    compute = ComputeService(
        compute_repository,
        await asyncio.to_thread(BackendRegistry),
        limits=ComputeLimits(
            max_concurrency=settings.compute_max_concurrency,
            max_queued=settings.compute_max_queued,
            default_timeout_seconds=settings.compute_task_timeout_seconds,
            max_timeout_seconds=settings.compute_max_task_timeout_seconds,
            max_task_memory_mb=settings.compute_max_task_memory_mb,
        ),
    )
    started = asyncio.Event()
    await compute.start(probe=settings.compute_probe, probe_after=started)
    opened.push_async_callback(compute.stop)
    compute_metrics = MetricsCollector(
        compute,
        compute_repository,
        interval_seconds=settings.compute_metrics_interval_seconds,
        ai_tasks_processed=lambda: health_reporter.ai_tasks_processed(),
    )
    compute_metrics.start()
    opened.push_async_callback(compute_metrics.stop)
    # Written by the configured LLM, else (or when it fails) deterministic.
    insights = InsightService(compute_repository, LLMInsightAnalyzer(llm_registry))
    ai_tasks = AITaskService(
        llm_registry,
        SystemFacts(compute, compute_metrics, insights).gather,
        max_output_tokens=settings.agents.max_output_tokens,
    )
    health_reporter.ai_tasks_processed = lambda: ai_tasks.processed
    health_reporter.device_count = lambda: len(compute.registry.devices)
    health_reporter.active_tasks = lambda: compute.active_tasks
    health_reporter.gpu_utilization = lambda: compute_metrics.gpu_utilization

    # Envoy's proof that the client address it forwards is its own
    # (interceptors/client_address.py); new at every start.
    gateway_secret = secrets.token_urlsafe(32) if settings.run_envoy else None
    addresses = ClientAddresses(gateway_secret)
    draining = Draining()
    server = grpc.aio.server(
        interceptors=[
            CallInterceptor(
                Admission(
                    CredentialAuthenticator(settings, identity, addresses),
                    RateLimiter(settings.rate_limit_window_seconds),
                    RateLimits.from_settings(settings),
                    addresses,
                ),
                draining,
            )
        ],
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", settings.max_request_bytes),
            # Above Envoy's 60 KiB header limit, so that an oversized
            # credential reaches the auth check (401) instead of being cut
            # off by gRPC (RESOURCE_EXHAUSTED, which REST would show as 429).
            ("grpc.max_metadata_size", MAX_METADATA_BYTES),
            ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
        ],
    )
    session_pb2_grpc.add_SessionServiceServicer_to_server(SessionServicer(sessions, directories), server)
    compute_pb2_grpc.add_ComputeServiceServicer_to_server(
        ComputeServicer(
            health_reporter,
            compute,
            compute_metrics,
            insights,
            ai_tasks,
        ),
        server,
    )
    docs_pb2_grpc.add_DocsServiceServicer_to_server(DocsServicer(allow_anonymous_local=settings.allow_anonymous_local, addresses=addresses), server)
    identity_pb2_grpc.add_IdentityServiceServicer_to_server(
        IdentityServicer(identity, allow_registration=settings.allow_registration), server
    )
    ml_pb2_grpc.add_MLServiceServicer_to_server(MLServicer(ml), server)
    agent_pb2_grpc.add_AgentServiceServicer_to_server(AgentServicer(agents, idempotency), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        grpc_port = server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
    except RuntimeError as error:
        raise StartupError(f"gRPC port {settings.grpc_host}:{settings.grpc_port} cannot be bound: {error}") from None
    await server.start()
    opened.push_async_callback(server.stop, 0)
    for name in (*SERVICE_NAMES, ""):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    runtime = Runtime(
        settings,
        database,
        server,
        health_servicer,
        grpc_port,
        draining,
        sessions=sessions,
        compute=compute,
        compute_metrics=compute_metrics,
        identity=identity,
        ml=ml,
        agents=agents,
        runner=runner,
        lock=lock,
    )
    await runner.start()
    opened.push_async_callback(runner.close)
    log.info("grpc.listening", address=f"{settings.grpc_host}:{grpc_port}")

    if settings.run_envoy:
        runtime.bridge = WebSocketBridge(runtime.grpc_target, heartbeat_seconds=settings.heartbeat_seconds)
        runtime.bridge_port = await runtime.bridge.start("127.0.0.1", settings.bridge_port)
        opened.push_async_callback(runtime.bridge.stop)
        config_dir = settings.data_dir / "envoy"
        config_dir.mkdir(parents=True, exist_ok=True)
        # Holds the admin socket: only the server's user may enter.
        config_dir.chmod(0o700)
        try:
            admin_socket = admin_socket_path(config_dir)
        except ValueError as error:
            raise StartupError(str(error)) from None
        config_path = config_dir / "envoy.yaml"
        # Only the server's user may read it: it holds the gateway secret.
        config_path.unlink(missing_ok=True)
        config_path.touch(mode=0o600)
        config_path.write_text(
            render_config(
                settings,
                grpc_port=grpc_port,
                bridge_port=runtime.bridge_port,
                admin_socket=admin_socket,
                gateway_secret=gateway_secret,
            )
        )
        runtime.envoy = EnvoySupervisor(
            config_path, admin_socket=admin_socket, log_level=ENVOY_LOG_LEVELS[settings.log_level]
        )
        try:
            await runtime.envoy.start()
        except (OSError, RuntimeError) as error:
            raise StartupError(f"Envoy cannot be started: {error}") from None
        opened.push_async_callback(runtime.envoy.stop)
        await wait_until_healthy(runtime.http_url + "/health", timeout=30, envoy=runtime.envoy)
        log.info("http.listening", url=runtime.http_url, compat_ports=list(settings.compat_ports))
    started.set()
    return runtime


async def wait_until_healthy(url: str, timeout: float, envoy: EnvoySupervisor) -> None:
    deadline = time.monotonic() + timeout

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
        if envoy.exit_codes:
            raise StartupError(f"Envoy exited with code {envoy.exit_codes[0]} while starting (its log above says why)")
        await asyncio.sleep(0.1)
    raise StartupError(f"Envoy did not answer 200 on {url} within {timeout:.0f}s")


async def serve(settings: Settings) -> None:
    runtime = await start_runtime(settings)
    # What start-up built lives as long as the process: keep it out of the
    # collector's scans (full collections showed up at ~3% of a loaded server).
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(
        f"agent-runtime {__version__} ready: gRPC {settings.grpc_host}:{runtime.grpc_port}"
        + (f", HTTP {runtime.http_url}" if settings.run_envoy else " (no Envoy)"),
        flush=True,
    )
    await stop.wait()
    log.info("server.stopping")
    await runtime.stop()


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-runtime", description="Runs AI coding agents for other programs (gRPC + REST/SSE/WebSocket via Envoy)."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser(
        "serve",
        help="run the gRPC server, the WebSocket bridge and Envoy",
        description="Run the gRPC server, the WebSocket bridge and Envoy until SIGTERM/SIGINT. "
        "Environment variables (README, Configuration) give the defaults; flags win.",
    )
    serve_parser.add_argument("--grpc-port", type=_port, help="gRPC port (default 50051, env GRPC_PORT)")
    serve_parser.add_argument("--http-port", type=_port, help="REST/WebSocket port served by Envoy (default 8000, env HTTP_PORT)")
    serve_parser.add_argument(
        "--compat-ports",
        type=lambda text: tuple(_port(p) for p in text.split(",") if p),
        help="extra comma-separated Envoy ports with the same routes, e.g. 8001,8765",
    )
    serve_parser.add_argument("--data-dir", type=pathlib.Path, help="where the database lives (default ./data, env AGENT_RUNTIME_DATA_DIR)")
    serve_parser.add_argument(
        "--allow-anonymous-local",
        action="store_true",
        default=None,
        help="let local clients in without credentials (env ALLOW_ANONYMOUS_LOCAL)",
    )
    serve_parser.add_argument("--no-envoy", action="store_true", help="serve gRPC only: no Envoy, no REST, no WebSocket")
    tiny_parser = commands.add_parser(
        "tiny-model",
        help="write a tiny random MLX model to fine-tune (nothing is downloaded)",
        description="Write a tiny llama-style MLX model directory (config.json, model.safetensors, tokenizer.json) "
        "with a tokenizer trained on the corpus. It knows nothing until fine-tuned: a model to try the fine-tuning "
        "and inference paths with. Put it under <data dir>/models/NAME to have it registered as NAME at start.",
    )
    tiny_parser.add_argument("directory", type=pathlib.Path, help="where to write the model, e.g. data/models/tiny")
    tiny_parser.add_argument(
        "--corpus", type=pathlib.Path, help="text file the tokenizer is trained on, one sample a line (default: a few built-in lines)"
    )
    return parser


def _tiny_model(directory: pathlib.Path, corpus_path: pathlib.Path | None) -> None:
    from agent_runtime.ml.tinymodel import DEFAULT_CORPUS, build_tiny_llama

    if directory.exists() and any(directory.iterdir()):
        raise ValueError(f"{directory} is not empty: choose a new directory for the model")
    corpus = corpus_path.read_text().splitlines() if corpus_path else DEFAULT_CORPUS
    build_tiny_llama(directory, [line for line in corpus if line.strip()])
    print(f"wrote a tiny MLX model to {directory}")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "tiny-model":
        try:
            _tiny_model(args.directory, args.corpus)
        except (OSError, ValueError) as error:
            print(f"agent-runtime: error: {error}", file=sys.stderr)
            sys.exit(2)
        return
    try:
        settings = Settings.from_env(
            grpc_port=args.grpc_port,
            http_port=args.http_port,
            compat_ports=args.compat_ports,
            data_dir=args.data_dir,
            allow_anonymous_local=args.allow_anonymous_local,
            run_envoy=False if args.no_envoy else None,
        )
        settings.check()
    except ValueError as error:
        print(f"agent-runtime: error: {error}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings.log_level)
    try:
        asyncio.run(serve(settings))
    except StartupError as error:
        print(f"agent-runtime: error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
