"""One typed settings object, built from environment variables and CLI flags
(flags win)."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import pathlib

from agent_runtime.agents.config import AgentsConfig
from agent_runtime.identity.projects import inside

DEV_API_KEY = "dev-api-key"
# The codelab document's x-internal-auth value, accepted like DEV_API_KEY:
# only with no service token configured on a loopback-only server.
DEV_INTERNAL_AUTH_TOKEN = "change-me-internal-key"
DEFAULT_CORS_ORIGINS = ("http://localhost:5173", "http://localhost:3000")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# `sqlite+aiosqlite` is how SQLAlchemy users write the same URL.
SQLITE_URL_SCHEMES = ("sqlite", "sqlite+aiosqlite")


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the server needs to start. See README "Configuration"."""

    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Extra Envoy listeners with the same routes, for clients with the
    # documents' other base URLs baked in (8001 codelab, 8765 session-event).
    compat_ports: tuple[int, ...] = ()
    # The WebSocket bridge listens here (loopback only); 0 picks a free port.
    bridge_port: int = 0
    data_dir: pathlib.Path = pathlib.Path("data")
    run_envoy: bool = True
    api_key: str | None = None
    allow_anonymous_local: bool = False
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    # Lowest level logged (LOG_LEVEL; DEBUG_LOGGING=true means DEBUG).
    log_level: str = "INFO"
    # DATABASE_URL: `sqlite:///PATH` puts the database elsewhere than the
    # data dir; other schemes are refused until their backend exists.
    database_url: str | None = None
    # Largest REST request body Envoy accepts (413 beyond).
    max_request_bytes: int = 10 * 1024 * 1024
    # Seconds Envoy waits for a request's headers once they began, and for
    # the next request on a connection without any; then it closes it.
    http_request_headers_timeout_seconds: float = 10.0
    http_idle_timeout_seconds: float = 300.0
    # Seconds between `heartbeat` messages on /ws.
    heartbeat_seconds: float = 5.0
    # Seconds in-flight calls get to finish on shutdown.
    shutdown_grace_seconds: float = 10.0
    # Service token accepted in `x-internal-auth` (administrator rights).
    internal_auth_token: str | None = None
    # Key that signs JWT access tokens; unset: generated once and kept in
    # <data_dir>/jwt-signing-key (mode 0600).
    jwt_secret: str | None = None
    # Lifetime of a JWT access token (`expires_in`).
    jwt_expires_seconds: int = 3600
    # Whether anyone may register; when false only administrators can.
    allow_registration: bool = True
    # Requests per rate-limit window: per issued key or user (authenticated),
    # per client IP (no or invalid credentials), and per administrator
    # credential (configured key, service token, anonymous local client).
    # 0 turns that limit off.
    rate_limit_authenticated: int = 100
    rate_limit_unauthenticated: int = 10
    rate_limit_admin: int = 6000
    rate_limit_window_seconds: float = 60.0
    # Compute tasks running at once (each in a worker thread).
    compute_max_concurrency: int = 1
    # Compute tasks waiting in the queue before POST /tasks answers 429.
    compute_max_queued: int = 256
    # Default and largest per-task timeout, in seconds.
    compute_task_timeout_seconds: float = 60.0
    compute_max_task_timeout_seconds: float = 600.0
    # Largest memory one compute task may allocate (413 beyond), in MB.
    compute_max_task_memory_mb: int = 1024
    # Seconds between stored metric samples (the series /ai/insights reads).
    compute_metrics_interval_seconds: float = 10.0
    # The start-up probe that times each device for the operations (two
    # passes, about 10 s of CPU); off, tasks run on the first capable device.
    compute_probe: bool = True
    # Largest training/validation file accepted by /ml-api/files/ (413 beyond).
    ml_max_file_bytes: int = 8 * 1024 * 1024
    # Fine-tuning jobs that run at the same time; the rest wait in a queue.
    ml_max_concurrent_jobs: int = 1
    # GET /health: seconds one dependency check (database, each LLM provider)
    # may take before it counts as unavailable, and seconds an answer is
    # reused (older answers are refreshed in the background).
    health_check_timeout_seconds: float = 2.0
    health_cache_seconds: float = 15.0
    # LLM providers, run limits, tools and approvals (agents/config.py).
    agents: AgentsConfig = dataclasses.field(default_factory=AgentsConfig)

    @property
    def database_path(self) -> pathlib.Path:
        if self.database_url:
            return pathlib.Path(self.database_url.split(":///", 1)[1])
        return self.data_dir / "agent-runtime.sqlite3"

    @property
    def binds_only_loopback(self) -> bool:
        return is_loopback(self.grpc_host) and (not self.run_envoy or is_loopback(self.http_host))

    def accepted_api_keys(self) -> frozenset[str]:
        """The configured key, or the documented development key when none is
        configured and nothing listens beyond loopback."""
        if self.api_key:
            return frozenset({self.api_key})
        if self.binds_only_loopback:
            return frozenset({DEV_API_KEY})
        return frozenset()

    def accepted_service_tokens(self) -> frozenset[str]:
        """The configured x-internal-auth token, or the codelab document's
        development value when none is configured and nothing listens beyond
        loopback."""
        if self.internal_auth_token:
            return frozenset({self.internal_auth_token})
        if self.binds_only_loopback:
            return frozenset({DEV_INTERNAL_AUTH_TOKEN})
        return frozenset()

    @property
    def jwt_key_path(self) -> pathlib.Path:
        return self.data_dir / "jwt-signing-key"

    def check(self) -> None:
        """Raises ValueError with a one-line reason for settings that cannot work."""
        for name in ("grpc_port", "http_port", "bridge_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ValueError(f"{name.replace('_', '-')} must be between 0 and 65535, got {port}")
        for port in self.compat_ports:
            if not 1 <= port <= 65535:
                raise ValueError(f"compat port must be between 1 and 65535, got {port}")
        if not self.api_key and not self.binds_only_loopback:
            raise ValueError(
                "refusing to listen beyond loopback without AGENT_API_KEY: set it, or bind 127.0.0.1"
            )
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        if self.database_url is not None:
            scheme, separator, path = self.database_url.partition(":///")
            if scheme not in SQLITE_URL_SCHEMES or not separator or not path:
                raise ValueError(
                    f"DATABASE_URL must be sqlite:///PATH (the embedded SQLite database; no other backend yet), "
                    f"got {scheme or self.database_url!r}; unset it to keep the database in the data dir"
                )
        if self.max_request_bytes <= 0:
            raise ValueError("MAX_REQUEST_BYTES must be positive")
        if self.http_request_headers_timeout_seconds <= 0:
            raise ValueError("HTTP_REQUEST_HEADERS_TIMEOUT_SECONDS must be positive")
        if self.http_idle_timeout_seconds <= 0:
            raise ValueError("HTTP_IDLE_TIMEOUT_SECONDS must be positive")
        if self.shutdown_grace_seconds < 0:
            raise ValueError(f"SHUTDOWN_GRACE_SECONDS must not be negative, got {self.shutdown_grace_seconds:g}")
        if self.jwt_secret is not None and len(self.jwt_secret) < 32:
            raise ValueError("JWT_SECRET must be at least 32 characters (HS256 needs a 256-bit key)")
        if not 60 <= self.jwt_expires_seconds <= 30 * 24 * 3600:
            raise ValueError("JWT_EXPIRES_SECONDS must be between 60 and 2592000 (30 days)")
        for name in ("rate_limit_authenticated", "rate_limit_unauthenticated", "rate_limit_admin"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.upper()} must not be negative (0 turns the limit off)")
        if self.rate_limit_window_seconds <= 0:
            raise ValueError("RATE_LIMIT_WINDOW_SECONDS must be positive")
        for name in ("compute_max_concurrency", "compute_max_queued", "compute_max_task_memory_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.upper()} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.compute_task_timeout_seconds <= self.compute_max_task_timeout_seconds:
            raise ValueError("COMPUTE_TASK_TIMEOUT_SECONDS must be positive and at most COMPUTE_MAX_TASK_TIMEOUT_SECONDS")
        if self.compute_metrics_interval_seconds <= 0:
            raise ValueError("COMPUTE_METRICS_INTERVAL must be positive")
        if self.health_check_timeout_seconds <= 0 or self.health_cache_seconds < 0:
            raise ValueError("HEALTH_CHECK_TIMEOUT_SECONDS must be positive and HEALTH_CACHE_SECONDS not negative")
        if self.ml_max_file_bytes <= 0:
            raise ValueError("ML_MAX_FILE_BYTES must be positive")
        if self.ml_max_concurrent_jobs < 1:
            raise ValueError("ML_MAX_CONCURRENT_JOBS must be at least 1")
        self.agents.check()
        for root in self.agents.project_roots:
            if not os.path.isabs(root):
                raise ValueError(f"PROJECT_ROOTS entries must be absolute paths, got {root!r}")
            data_dir, real_root = os.path.realpath(self.data_dir), os.path.realpath(root)
            if inside(data_dir, real_root) or inside(real_root, data_dir):
                raise ValueError(
                    f"PROJECT_ROOTS entry {root} overlaps the data dir {self.data_dir} (database, keys, other users' "
                    "workspaces): users could choose it as a project directory"
                )

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        origins = os.environ.get("CORS_ORIGINS")
        values: dict[str, object] = {
            "grpc_host": os.environ.get("GRPC_HOST", cls.grpc_host),
            "grpc_port": _env_int("GRPC_PORT", cls.grpc_port),
            "http_host": os.environ.get("HTTP_HOST", cls.http_host),
            "http_port": _env_int("HTTP_PORT", cls.http_port),
            "data_dir": pathlib.Path(os.environ.get("AGENT_RUNTIME_DATA_DIR", str(cls.data_dir))),
            "api_key": os.environ.get("AGENT_API_KEY") or None,
            "allow_anonymous_local": _env_bool("ALLOW_ANONYMOUS_LOCAL", False),
            "cors_origins": tuple(o.strip() for o in origins.split(",") if o.strip())
            if origins is not None
            else DEFAULT_CORS_ORIGINS,
            "log_level": "DEBUG" if _env_bool("DEBUG_LOGGING", False) else os.environ.get("LOG_LEVEL", cls.log_level).strip().upper(),
            "database_url": os.environ.get("DATABASE_URL", "").strip() or None,
            "max_request_bytes": _env_int("MAX_REQUEST_BYTES", cls.max_request_bytes),
            "http_request_headers_timeout_seconds": _env_float(
                "HTTP_REQUEST_HEADERS_TIMEOUT_SECONDS", cls.http_request_headers_timeout_seconds
            ),
            "http_idle_timeout_seconds": _env_float("HTTP_IDLE_TIMEOUT_SECONDS", cls.http_idle_timeout_seconds),
            "shutdown_grace_seconds": _env_float("SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace_seconds),
            "internal_auth_token": os.environ.get("INTERNAL_AUTH_TOKEN") or None,
            "jwt_secret": os.environ.get("JWT_SECRET") or None,
            "jwt_expires_seconds": _env_int("JWT_EXPIRES_SECONDS", cls.jwt_expires_seconds),
            "allow_registration": _env_bool("ALLOW_REGISTRATION", cls.allow_registration),
            "rate_limit_authenticated": _env_int("RATE_LIMIT_AUTHENTICATED", cls.rate_limit_authenticated),
            "rate_limit_unauthenticated": _env_int("RATE_LIMIT_UNAUTHENTICATED", cls.rate_limit_unauthenticated),
            "rate_limit_admin": _env_int("RATE_LIMIT_ADMIN", cls.rate_limit_admin),
            "rate_limit_window_seconds": float(_env_int("RATE_LIMIT_WINDOW_SECONDS", int(cls.rate_limit_window_seconds))),
            "compute_max_concurrency": _env_int("COMPUTE_MAX_CONCURRENCY", cls.compute_max_concurrency),
            "compute_max_queued": _env_int("COMPUTE_MAX_QUEUED", cls.compute_max_queued),
            "compute_task_timeout_seconds": _env_float("COMPUTE_TASK_TIMEOUT_SECONDS", cls.compute_task_timeout_seconds),
            "compute_max_task_timeout_seconds": _env_float(
                "COMPUTE_MAX_TASK_TIMEOUT_SECONDS", cls.compute_max_task_timeout_seconds
            ),
            "compute_max_task_memory_mb": _env_int("COMPUTE_MAX_TASK_MEMORY_MB", cls.compute_max_task_memory_mb),
            "compute_metrics_interval_seconds": _env_float(
                "COMPUTE_METRICS_INTERVAL", cls.compute_metrics_interval_seconds
            ),
            "compute_probe": _env_bool("COMPUTE_PROBE", cls.compute_probe),
            "health_check_timeout_seconds": _env_float("HEALTH_CHECK_TIMEOUT_SECONDS", cls.health_check_timeout_seconds),
            "health_cache_seconds": _env_float("HEALTH_CACHE_SECONDS", cls.health_cache_seconds),
            "ml_max_file_bytes": _env_int("ML_MAX_FILE_BYTES", cls.ml_max_file_bytes),
            "ml_max_concurrent_jobs": _env_int("ML_MAX_CONCURRENT_JOBS", cls.ml_max_concurrent_jobs),
            "agents": AgentsConfig.from_env(),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
