"""The composition root: builds each part of the server from its settings
section and its collaborators, and starts them in one AsyncExitStack, so
that stopping (in reverse order) and the cleanup after a failed start are
the same mechanism."""

from __future__ import annotations

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
from typing import AsyncIterator, Iterator

import structlog

from agent_runtime import __version__
from agent_runtime.agents.ai_tasks import AITaskService
from agent_runtime.agents.idempotency import IdempotencyKeys
from agent_runtime.agents.leases import instance_id
from agent_runtime.agents.runner import AgentRunner
from agent_runtime.agents.service import AgentService
from agent_runtime.agents.servicer import AgentServicer
from agent_runtime.agents.switching import AgentSwitcher
from agent_runtime.compute.facts import SystemFacts
from agent_runtime.compute.insights import InsightService, LLMInsightAnalyzer
from agent_runtime.compute.series import MetricSeriesService
from agent_runtime.compute.metrics import MetricsCollector
from agent_runtime.compute.registry import BackendRegistry
from agent_runtime.compute.service import ComputeLimits, ComputeService
from agent_runtime.compute.servicer import ComputeServicer
from agent_runtime.config import Settings
from agent_runtime.events.bus import EventBus, RelayedBus
from agent_runtime.gateway.docs import DocsServicer
from agent_runtime.gateway.envoy import end_stale_envoy
from agent_runtime.gateway.http_front import HttpFront
from agent_runtime.grpc_server import GrpcServer
from agent_runtime.health import DependencyCheck, HealthReporter, MultiAgentSettings, llm_states
from agent_runtime.identity.passwords import Passwords
from agent_runtime.identity.projects import ProjectDirectories
from agent_runtime.identity.ratelimit import MemoryRateWindows, RateLimiter
from agent_runtime.identity.service import IdentityService
from agent_runtime.identity.servicer import IdentityServicer
from agent_runtime.identity.tokens import KeyFile, TokenIssuer
from agent_runtime.interceptors.auth import Admission, CredentialAuthenticator, RateLimits
from agent_runtime.interceptors.client_address import ClientAddresses
from agent_runtime.lifecycle import WORKER_RECORDS_DIR, DataDirBusy, DataDirLock, StartupError, end_stale_workers
from agent_runtime.llm.mlx_provider import MLXProvider
from agent_runtime.llm.registry import ProviderRegistry
from agent_runtime.ml.inference import LocalInference
from agent_runtime.ml.remote import remote_models
from agent_runtime.ml.service import MLService
from agent_runtime.ml.servicer import MLServicer
from agent_runtime.sessions.service import SessionService
from agent_runtime.sessions.servicer import SessionServicer
from agent_runtime.settings_checks import check_settings
from agent_runtime.storage.engines import Storage, StorageUnavailable, open_storage
from agent_runtime.storage.errors import DatabaseError
from agent_runtime.storage.postgres import database as postgres
from agent_runtime.storage.sqlite import database as sqlite
from agent_runtime.tools.containment import Sandbox

log = structlog.get_logger(__name__)


@dataclasses.dataclass(frozen=True)
class Runtime:
    """A running server: what tests and `serve` hold on to. `stop` drains,
    then stops every part in the reverse order of their start."""

    settings: Settings
    database: sqlite.Database | postgres.Database
    sessions: SessionService
    identity: IdentityService
    compute: ComputeService
    ml: MLService
    inference: LocalInference
    agents: AgentService
    grpc_port: int
    parts: contextlib.AsyncExitStack = dataclasses.field(repr=False)

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.server.http_port}"

    async def stop(self) -> None:
        await self.parts.aclose()
        log.info("server.stopped")


@dataclasses.dataclass(frozen=True)
class WorkerRole:
    """What a worker of `serve --workers N` gets from its parent
    (worker_pool.py), which holds the data dir's lock and runs Envoy: the
    worker runs the gRPC server and a WebSocket bridge, and trusts the
    client address Envoy forwards with the parent's gateway secret."""

    gateway_secret: str
    index: int

    def own_dir(self, data_dir: pathlib.Path) -> pathlib.Path:
        """This worker's files in the data dir its siblings share: what a
        start cleans up after its predecessor (leftover commands, the runs'
        leases) is the same worker's, never a live sibling's."""
        path = data_dir / WORKER_RECORDS_DIR / f"worker-{self.index}"
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path


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


@contextlib.contextmanager
def claimed_data_dir(settings: Settings) -> Iterator[None]:
    """The data dir's lock, held while the server runs; with it, an Envoy
    recorded in the data dir was left by a server that died: it is ended
    before the ports are checked."""
    lock = DataDirLock(settings.data_dir)
    try:
        # Before the lock file: created by it, the dir would get the umask's mode.
        private_data_dir(settings.data_dir)
        lock.acquire()
    except (DataDirBusy, OSError) as error:
        raise StartupError(str(error)) from None
    try:
        server = settings.server
        if server.run_envoy:
            end_stale_envoy(settings.data_dir / "envoy")
        end_stale_workers(settings.data_dir)
        check_port_free(server.grpc_host, server.grpc_port, "gRPC")
        if server.run_envoy:
            for port in (server.http_port, *server.compat_ports):
                check_port_free(server.http_host, port, "HTTP")
        yield
    finally:
        lock.release()


@contextlib.asynccontextmanager
async def opened_storage(settings: Settings) -> AsyncIterator[Storage]:
    try:
        storage = await open_storage(settings.database_path, settings.postgres_url)
    except StorageUnavailable as error:
        raise StartupError(str(error)) from None
    try:
        yield storage
    finally:
        await storage.database.close()


async def event_buses(storage: Storage) -> tuple[EventBus, EventBus, EventBus]:
    """The session feed's bus, the agent runs' bus and the fine-tuning
    jobs' bus. On PostgreSQL the feed's events reach subscribers through the
    storage's relay, in commit order, whichever process wrote them; other
    processes' session changes, run events and job events come through it
    too (storage/postgres/relay.py)."""
    task_bus: EventBus = EventBus()
    job_bus: EventBus = EventBus()
    if storage.relay is None:
        return EventBus(), task_bus, job_bus
    feed_bus: RelayedBus = RelayedBus(lambda item: item.kind == "event")

    def reread_runs_and_jobs() -> None:
        task_bus.resync()
        job_bus.resync()

    try:
        await storage.relay.start(feed_bus.publish_relayed, task_bus.publish, job_bus.publish, reread_runs_and_jobs)
    except DatabaseError as error:
        raise StartupError(f"database: listening for notifications: {error.__cause__ or error}") from None
    return feed_bus, task_bus, job_bus


async def signing_key(settings: Settings, storage: Storage) -> bytes:
    """JWT_SECRET when set; else the database's key on PostgreSQL (shared by
    every process on it), the data dir's file on SQLite."""
    if settings.auth.jwt_secret:
        return settings.auth.jwt_secret.encode()
    try:
        return await (storage.signing_keys or KeyFile(settings.jwt_key_path)).signing_key()
    except (OSError, ValueError, DatabaseError) as error:
        raise StartupError(f"JWT signing key: {error}") from None


async def start_runtime(settings: Settings, worker: WorkerRole | None = None) -> Runtime:
    """Starts everything `settings` asks for and returns once `GET /health`
    answers 200 through Envoy (or the gRPC server serves, with no Envoy).
    A failing step stops everything started before it and raises
    StartupError with one line that says what failed."""
    try:
        check_settings(settings)
    except ValueError as error:
        raise StartupError(str(error)) from None
    parts = contextlib.AsyncExitStack()
    try:
        return await _compose(settings, parts, worker)
    except BaseException:
        await parts.aclose()
        raise


async def _compose(settings: Settings, parts: contextlib.AsyncExitStack, worker: WorkerRole | None) -> Runtime:
    if worker is None:
        parts.enter_context(claimed_data_dir(settings))
    # Envoy's proof that the client address it forwards is its own
    # (interceptors/client_address.py); new at every start.
    gateway_secret = worker.gateway_secret if worker else secrets.token_urlsafe(32)
    front = None
    if settings.server.run_envoy:
        front = HttpFront(
            settings.server,
            settings.data_dir,
            log_level=settings.log_level,
            gateway_secret=gateway_secret,
            run_envoy=worker is None,
        )
        # Started last but stopped last: Envoy carries the last answers.
        parts.push_async_callback(front.stop)
    sandbox = await asyncio.to_thread(Sandbox.detect, settings.agents.sandbox, server_paths(settings))
    sandbox.announce()
    storage = await parts.enter_async_context(opened_storage(settings))
    database = storage.database
    feed_bus, task_bus, job_bus = await event_buses(storage)
    sessions = SessionService(storage.sessions, feed_bus)
    identity = IdentityService(
        storage.identity,
        TokenIssuer(await signing_key(settings, storage), settings.auth.jwt_expires_seconds),
        Passwords(settings.auth.password_hash_memory_kib, settings.auth.password_hash_passes),
    )
    llm_registry = ProviderRegistry.from_config(settings.llm)
    ml = MLService(
        storage.ml_models,
        storage.ml_files,
        storage.ml_jobs,
        settings.data_dir,
        max_file_bytes=settings.ml.max_file_bytes,
        max_concurrent_jobs=settings.ml.max_concurrent_jobs,
        lease_owner=instance_id(),
        lease_seconds=settings.ml.job_lease_seconds,
        remote_models=functools.partial(remote_models, llm_registry),
        events=job_bus,
    )
    own_dir = settings.data_dir if worker is None else worker.own_dir(settings.data_dir)
    if storage.relay is not None:
        storage.relay.watch_jobs(ml.runner.job_changed)
    await ml.start(own_dir / "ml-lease-owner")
    # Running fine-tuning jobs checkpoint, for the next process that claims them.
    parts.push_async_callback(ml.stop, settings.server.shutdown_grace_seconds)
    inference = LocalInference(ml.locate)
    parts.callback(inference.close)
    # Registered MLX models as the `mlx` provider (see llm/mlx_provider.py).
    mlx_provider = MLXProvider(ml.list_local_models, inference.stream_chat)
    ml.model_listeners.append(mlx_provider.model_registered)
    await mlx_provider.refresh()
    llm_registry.add(mlx_provider)

    directories = ProjectDirectories(
        settings.agents.project_roots, settings.data_dir / "workspaces", settings.agents.default_workspace
    )
    agent_store = storage.agents
    switcher = AgentSwitcher(agent_store.switches, sessions, settings.agents)
    runner = AgentRunner(
        agent_store,
        llm_registry,
        sessions,
        task_bus,
        settings.agents,
        llm=settings.llm,
        sandbox=sandbox,
        commands_dir=own_dir / "commands",
        switcher=switcher,
        lease_owner_file=own_dir / "run-lease-owner",
    )
    if storage.relay is not None:
        storage.relay.watch_runs(runner.runs_changed)
    agents = AgentService.build(
        agent_store, sessions, llm_registry, runner, task_bus, settings.agents, directories=directories, switcher=switcher
    )
    idempotency = IdempotencyKeys(agent_store.idempotency)
    await idempotency.purge()

    compute_tasks, compute_samples = storage.compute_tasks, storage.compute_samples
    compute = ComputeService(
        compute_tasks,
        storage.compute_probes,
        await asyncio.to_thread(BackendRegistry),
        limits=ComputeLimits(
            max_concurrency=settings.compute.max_concurrency,
            max_queued=settings.compute.max_queued,
            default_timeout_seconds=settings.compute.task_timeout_seconds,
            max_timeout_seconds=settings.compute.max_task_timeout_seconds,
            max_task_memory_mb=settings.compute.max_task_memory_mb,
        ),
    )
    if storage.relay is not None:
        # Other processes' task changes reach this one's watchers, and
        # requests to cancel a task this one runs reach it.
        storage.relay.serve_compute(compute.updates.publish, compute.cancel_requested)
    # The device probe waits until the server has started (it loads the CPU).
    started = asyncio.Event()
    await compute.start(probe=settings.compute.probe, probe_after=started)
    parts.push_async_callback(compute.stop)
    # The AI tasks read the metrics and the metrics count the AI tasks: the
    # counter is read through the name bound below, once sampling runs.
    compute_metrics = MetricsCollector(
        compute,
        compute_samples,
        interval_seconds=settings.compute.metrics_interval_seconds,
        ai_tasks_processed=lambda: ai_tasks.processed,
    )
    compute_metrics.start()
    parts.push_async_callback(compute_metrics.stop)
    # Written by the configured LLM, else (or when it fails) deterministic.
    insights = InsightService(compute_samples, compute_tasks, LLMInsightAnalyzer(llm_registry))
    ai_tasks = AITaskService(
        llm_registry, SystemFacts(compute, compute_metrics, insights).gather, max_output_tokens=settings.agents.max_output_tokens
    )
    health_reporter = HealthReporter(
        MultiAgentSettings(settings.agents.multi_agent_enabled, settings.agents.default_agent),
        _dependency_checks(settings, database, llm_registry, sandbox),
        device_count=lambda: len(compute.registry.devices),
        active_tasks=lambda: compute.active_tasks,
        ai_tasks_processed=lambda: ai_tasks.processed,
        gpu_utilization=lambda: compute_metrics.gpu_utilization,
    )

    addresses = ClientAddresses(gateway_secret if front is not None else None)
    grpc_server = GrpcServer(
        settings.server,
        Admission(
            CredentialAuthenticator(settings, identity, addresses),
            RateLimiter(storage.rate_windows or MemoryRateWindows(), settings.rate_limits.window_seconds),
            RateLimits.from_settings(settings.rate_limits),
            addresses,
        ),
        sessions=SessionServicer(sessions, directories),
        compute=ComputeServicer(
            health_reporter, compute, compute_metrics, insights, ai_tasks, MetricSeriesService(compute_samples)
        ),
        docs=DocsServicer(allow_anonymous_local=settings.auth.allow_anonymous_local, addresses=addresses),
        identity=IdentityServicer(identity, allow_registration=settings.auth.allow_registration),
        ml=MLServicer(ml),
        agents=AgentServicer(agents, idempotency),
    )
    await grpc_server.start()
    parts.push_async_callback(grpc_server.stop)
    await runner.start()
    # Runs are cancelled at their current step and resumed on the next
    # start from what they persisted.
    parts.push_async_callback(runner.close)
    if front is not None:
        await front.start(grpc_server.port)
    # First of the stop: see _drain.
    parts.push_async_callback(_drain, grpc_server, front)
    started.set()
    return Runtime(settings, database, sessions, identity, compute, ml, inference, agents, grpc_server.port, parts)


def _dependency_checks(
    settings: Settings, database: sqlite.Database | postgres.Database, llm_registry: ProviderRegistry, sandbox: Sandbox
) -> list[DependencyCheck]:
    async def database_state() -> dict[str, str]:
        return {"database": "connected" if await database.ping() else "disconnected"}

    async def llm_state() -> dict[str, str]:
        return llm_states(await llm_registry.reachability(settings.health.check_timeout_seconds))

    async def sandbox_state() -> dict[str, str]:
        return {"sandbox": sandbox.state}

    timeout, cache = settings.health.check_timeout_seconds, settings.health.cache_seconds
    return [
        DependencyCheck(("database",), database_state, timeout_seconds=timeout, cache_seconds=cache),
        # Each provider's probe is bounded by the timeout; the whole check
        # gets twice that as a safety net.
        DependencyCheck(("llm_proxy",), llm_state, timeout_seconds=2 * timeout, cache_seconds=cache),
        DependencyCheck(("sandbox",), sandbox_state, timeout_seconds=timeout, cache_seconds=cache),
    ]


async def _drain(grpc_server: GrpcServer, front: HttpFront | None) -> None:
    """Before the parts stop: health NOT_SERVING and Envoy stops accepting
    connections; /ws clients and live streams get a resumable ending;
    in-flight calls get SHUTDOWN_GRACE_SECONDS to finish."""
    await grpc_server.announce_draining()
    if front is not None:
        await front.drain()
    await grpc_server.drain()


async def serve(settings: Settings, worker: WorkerRole | None = None) -> None:
    runtime = await start_runtime(settings, worker)
    # What start-up built lives as long as the process: keep it out of the
    # collector's scans (full collections showed up at ~3% of a loaded server).
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(
        f"agent-runtime {__version__} ready: gRPC {settings.server.grpc_host}:{runtime.grpc_port}"
        + (f", HTTP {runtime.http_url}" if settings.server.run_envoy and worker is None else " (no Envoy)"),
        flush=True,
    )
    await stop.wait()
    log.info("server.stopping")
    await runtime.stop()
