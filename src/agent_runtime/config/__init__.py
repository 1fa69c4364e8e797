"""One typed settings object in frozen sections, each read by the part of
the server named after it; built from environment variables (each named
next to its default) and CLI flags (flags win). Imports no domain: checks
that need a domain's knowledge run in the composition root
(settings_checks.check_settings)."""

from __future__ import annotations

import dataclasses
import ipaddress
import pathlib
import urllib.parse
from typing import Mapping

from agent_runtime.config.agents import AgentsConfig, SandboxSettings  # noqa: F401 (the sections' one import path)
from agent_runtime.config.llm import LLMSettings
from agent_runtime.config.loader import env_name, load, replace, section, setting

DEV_API_KEY = "dev-api-key"
# The codelab document's x-internal-auth value, accepted like DEV_API_KEY:
# only with no service token configured on a loopback-only server.
DEV_INTERNAL_AUTH_TOKEN = "change-me-internal-key"
DEFAULT_CORS_ORIGINS = ("http://localhost:5173", "http://localhost:3000")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# `sqlite+aiosqlite` is how SQLAlchemy users write the same URL.
SQLITE_URL_SCHEMES = ("sqlite", "sqlite+aiosqlite")
POSTGRES_URL_SCHEMES = ("postgresql", "postgres")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """The gRPC server, Envoy and the WebSocket bridge."""

    grpc_host: str = setting("GRPC_HOST", "127.0.0.1")
    grpc_port: int = setting("GRPC_PORT", 50051)
    http_host: str = setting("HTTP_HOST", "127.0.0.1")
    http_port: int = setting("HTTP_PORT", 8000)
    # Extra Envoy listeners with the same routes, for clients with the
    # documents' other base URLs baked in (8001 codelab, 8765 session-event).
    compat_ports: tuple[int, ...] = ()
    # The WebSocket bridge listens here (loopback only); 0 picks a free port.
    bridge_port: int = 0
    run_envoy: bool = True
    cors_origins: tuple[str, ...] = setting("CORS_ORIGINS", DEFAULT_CORS_ORIGINS)
    # Largest REST request body Envoy accepts (413 beyond).
    max_request_bytes: int = setting("MAX_REQUEST_BYTES", 10 * 1024 * 1024)
    # Seconds Envoy waits for a request's headers once they began, and for
    # the next request on a connection without any; then it closes it.
    http_request_headers_timeout_seconds: float = setting("HTTP_REQUEST_HEADERS_TIMEOUT_SECONDS", 10.0)
    http_idle_timeout_seconds: float = setting("HTTP_IDLE_TIMEOUT_SECONDS", 300.0)
    # Seconds between `heartbeat` messages on /ws.
    heartbeat_seconds: float = 5.0
    # Seconds in-flight calls get to finish on shutdown.
    shutdown_grace_seconds: float = setting("SHUTDOWN_GRACE_SECONDS", 10.0)

    @property
    def binds_only_loopback(self) -> bool:
        return is_loopback(self.grpc_host) and (not self.run_envoy or is_loopback(self.http_host))

    def check(self) -> None:
        for name in ("grpc_port", "http_port", "bridge_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ValueError(f"{name.replace('_', '-')} must be between 0 and 65535, got {port}")
        for port in self.compat_ports:
            if not 1 <= port <= 65535:
                raise ValueError(f"compat port must be between 1 and 65535, got {port}")
        if self.max_request_bytes <= 0:
            raise ValueError("MAX_REQUEST_BYTES must be positive")
        for name in ("http_request_headers_timeout_seconds", "http_idle_timeout_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{env_name(ServerSettings, name)} must be positive")
        if self.shutdown_grace_seconds < 0:
            raise ValueError(f"SHUTDOWN_GRACE_SECONDS must not be negative, got {self.shutdown_grace_seconds:g}")


@dataclasses.dataclass(frozen=True)
class AuthSettings:
    """Credentials: the API key, the service token, JWTs, registration."""

    api_key: str | None = setting("AGENT_API_KEY", None)
    allow_anonymous_local: bool = setting("ALLOW_ANONYMOUS_LOCAL", False)
    # Service token accepted in `x-internal-auth` (administrator rights).
    internal_auth_token: str | None = setting("INTERNAL_AUTH_TOKEN", None)
    # Key that signs JWT access tokens; unset: generated once and kept in
    # <data_dir>/jwt-signing-key (mode 0600).
    jwt_secret: str | None = setting("JWT_SECRET", None)
    # Lifetime of a JWT access token (`expires_in`).
    jwt_expires_seconds: int = setting("JWT_EXPIRES_SECONDS", 3600)
    # Whether anyone may register; when false only administrators can.
    allow_registration: bool = setting("ALLOW_REGISTRATION", True)
    # argon2id cost of new password hashes (RFC 9106's low-memory profile:
    # 64 MiB, 3 passes); each stored hash keeps its own, so a change
    # applies to passwords set from then on.
    password_hash_memory_kib: int = setting("PASSWORD_HASH_MEMORY_KIB", 65536)
    password_hash_passes: int = setting("PASSWORD_HASH_PASSES", 3)

    def check(self) -> None:
        if self.password_hash_memory_kib < 64:
            raise ValueError("PASSWORD_HASH_MEMORY_KIB must be at least 64")
        if self.password_hash_passes < 1:
            raise ValueError("PASSWORD_HASH_PASSES must be at least 1")
        if self.jwt_secret is not None and len(self.jwt_secret) < 32:
            raise ValueError("JWT_SECRET must be at least 32 characters (HS256 needs a 256-bit key)")
        if not 60 <= self.jwt_expires_seconds <= 30 * 24 * 3600:
            raise ValueError("JWT_EXPIRES_SECONDS must be between 60 and 2592000 (30 days)")


@dataclasses.dataclass(frozen=True)
class RateLimitSettings:
    """Requests per window: per issued key or user (authenticated), per
    client IP (no or invalid credentials), and per administrator credential
    (configured key, service token, anonymous local client). 0 turns that
    limit off."""

    authenticated: int = setting("RATE_LIMIT_AUTHENTICATED", 100)
    unauthenticated: int = setting("RATE_LIMIT_UNAUTHENTICATED", 10)
    admin: int = setting("RATE_LIMIT_ADMIN", 6000)
    window_seconds: float = setting("RATE_LIMIT_WINDOW_SECONDS", 60.0)

    def check(self) -> None:
        for name in ("authenticated", "unauthenticated", "admin"):
            if getattr(self, name) < 0:
                raise ValueError(f"{env_name(RateLimitSettings, name)} must not be negative (0 turns the limit off)")
        if self.window_seconds <= 0:
            raise ValueError("RATE_LIMIT_WINDOW_SECONDS must be positive")


@dataclasses.dataclass(frozen=True)
class ComputeSettings:
    """Compute tasks and the metrics series."""

    # Tasks running at once (each in a worker thread).
    max_concurrency: int = setting("COMPUTE_MAX_CONCURRENCY", 1)
    # Tasks waiting in the queue before POST /tasks answers 429.
    max_queued: int = setting("COMPUTE_MAX_QUEUED", 256)
    # Default and largest per-task timeout, in seconds.
    task_timeout_seconds: float = setting("COMPUTE_TASK_TIMEOUT_SECONDS", 60.0)
    max_task_timeout_seconds: float = setting("COMPUTE_MAX_TASK_TIMEOUT_SECONDS", 600.0)
    # Largest memory one task may allocate (413 beyond), in MB.
    max_task_memory_mb: int = setting("COMPUTE_MAX_TASK_MEMORY_MB", 1024)
    # Seconds between stored metric samples (the series /ai/insights reads).
    metrics_interval_seconds: float = setting("COMPUTE_METRICS_INTERVAL", 10.0)
    # Time each device at start-up so that tasks run on the fastest; off:
    # the first capable device.
    probe: bool = setting("COMPUTE_PROBE", True)

    def check(self) -> None:
        for name in ("max_concurrency", "max_queued", "max_task_memory_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"{env_name(ComputeSettings, name)} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.task_timeout_seconds <= self.max_task_timeout_seconds:
            raise ValueError("COMPUTE_TASK_TIMEOUT_SECONDS must be positive and at most COMPUTE_MAX_TASK_TIMEOUT_SECONDS")
        if self.metrics_interval_seconds <= 0:
            raise ValueError("COMPUTE_METRICS_INTERVAL must be positive")


@dataclasses.dataclass(frozen=True)
class MLSettings:
    """Uploads and fine-tuning jobs."""

    # Largest training/validation file accepted by /ml-api/files/ (413 beyond).
    max_file_bytes: int = setting("ML_MAX_FILE_BYTES", 8 * 1024 * 1024)
    # Fine-tuning jobs that run at the same time; the rest wait in a queue.
    max_concurrent_jobs: int = setting("ML_MAX_CONCURRENT_JOBS", 1)
    # Seconds a process's claim on a running job lasts without renewal (it
    # renews every third of it): how long a job whose process died waits
    # before another process resumes it.
    job_lease_seconds: float = setting("ML_JOB_LEASE_SECONDS", 30.0)

    def check(self) -> None:
        if self.max_file_bytes <= 0:
            raise ValueError("ML_MAX_FILE_BYTES must be positive")
        if self.max_concurrent_jobs < 1:
            raise ValueError("ML_MAX_CONCURRENT_JOBS must be at least 1")
        if self.job_lease_seconds <= 0:
            raise ValueError("ML_JOB_LEASE_SECONDS must be positive")


@dataclasses.dataclass(frozen=True)
class HealthSettings:
    """GET /health: seconds one dependency check (database, each LLM
    provider) may take before it counts as unavailable, and seconds an
    answer is reused (older answers are refreshed in the background)."""

    check_timeout_seconds: float = setting("HEALTH_CHECK_TIMEOUT_SECONDS", 2.0)
    cache_seconds: float = setting("HEALTH_CACHE_SECONDS", 15.0)

    def check(self) -> None:
        if self.check_timeout_seconds <= 0 or self.cache_seconds < 0:
            raise ValueError("HEALTH_CHECK_TIMEOUT_SECONDS must be positive and HEALTH_CACHE_SECONDS not negative")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the server needs to start. See README "Configuration"."""

    data_dir: pathlib.Path = setting("AGENT_RUNTIME_DATA_DIR", pathlib.Path("data"))
    # Lowest level logged; DEBUG_LOGGING=true means DEBUG.
    log_level: str = setting("LOG_LEVEL", "INFO", parse=str.upper)
    debug_logging: bool = setting("DEBUG_LOGGING", False)
    # `sqlite:///PATH` puts the database elsewhere than the data dir;
    # `postgresql://user:pass@host:port/db` (or postgres://) runs on
    # PostgreSQL instead of the embedded SQLite (storage/engines.py).
    database_url: str | None = setting("DATABASE_URL", None)
    server: ServerSettings = section(ServerSettings)
    auth: AuthSettings = section(AuthSettings)
    rate_limits: RateLimitSettings = section(RateLimitSettings)
    compute: ComputeSettings = section(ComputeSettings)
    ml: MLSettings = section(MLSettings)
    health: HealthSettings = section(HealthSettings)
    agents: AgentsConfig = section(AgentsConfig)
    llm: LLMSettings = section(LLMSettings)

    def __post_init__(self) -> None:
        if self.debug_logging:
            object.__setattr__(self, "log_level", "DEBUG")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read from `environ` (default: the process environment)."""
        return load(cls, environ)

    def replace(self, **changes: object) -> "Settings":
        """These settings with fields changed; a dict for a section changes
        only the fields it names: `settings.replace(server={"grpc_port": 0})`."""
        return replace(self, **changes)

    @property
    def postgres_url(self) -> str | None:
        """The PostgreSQL DSN when DATABASE_URL names one, else None (SQLite)."""
        if self.database_url and self.database_url.partition("://")[0] in POSTGRES_URL_SCHEMES:
            return self.database_url
        return None

    @property
    def database_path(self) -> pathlib.Path:
        """The SQLite database's file (where it would be, on PostgreSQL)."""
        if self.database_url and self.postgres_url is None:
            return pathlib.Path(self.database_url.split(":///", 1)[1])
        return self.data_dir / "agent-runtime.sqlite3"

    @property
    def jwt_key_path(self) -> pathlib.Path:
        return self.data_dir / "jwt-signing-key"

    def accepted_api_keys(self) -> frozenset[str]:
        """The configured key, or the documented development key when none is
        configured and nothing listens beyond loopback."""
        if self.auth.api_key:
            return frozenset({self.auth.api_key})
        if self.server.binds_only_loopback:
            return frozenset({DEV_API_KEY})
        return frozenset()

    def accepted_service_tokens(self) -> frozenset[str]:
        """The configured x-internal-auth token, or the codelab document's
        development value when none is configured and nothing listens beyond
        loopback."""
        if self.auth.internal_auth_token:
            return frozenset({self.auth.internal_auth_token})
        if self.server.binds_only_loopback:
            return frozenset({DEV_INTERNAL_AUTH_TOKEN})
        return frozenset()

    def check(self) -> None:
        """Raises ValueError with a one-line reason for settings that cannot work."""
        self.server.check()
        if not self.auth.api_key and not self.server.binds_only_loopback:
            raise ValueError("refusing to listen beyond loopback without AGENT_API_KEY: set it, or bind 127.0.0.1")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        if self.database_url is not None:
            scheme, separator, path = self.database_url.partition(":///")
            postgres = urllib.parse.urlsplit(self.postgres_url or "")
            if not (postgres.hostname and postgres.path.strip("/")) and (
                scheme not in SQLITE_URL_SCHEMES or not separator or not path
            ):
                raise ValueError(
                    "DATABASE_URL must be sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE, "
                    f"got {self.database_url.partition('://')[0]!r}"
                    f"{' without a host or database' if self.postgres_url else ''}; "
                    "unset it to keep the database in the data dir"
                )
        for part in (self.auth, self.rate_limits, self.compute, self.health, self.ml, self.agents, self.llm):
            part.check()
