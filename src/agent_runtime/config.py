"""One typed settings object, built from environment variables and CLI flags
(flags win)."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import pathlib

from agent_runtime.agents.config import AgentsConfig

DEV_API_KEY = "dev-api-key"
DEFAULT_CORS_ORIGINS = ("http://localhost:5173", "http://localhost:3000")


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
    # Envoy's admin interface (loopback only); 0 picks a free port.
    envoy_admin_port: int = 0
    data_dir: pathlib.Path = pathlib.Path("data")
    run_envoy: bool = True
    api_key: str | None = None
    allow_anonymous_local: bool = False
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    debug_logging: bool = False
    # Largest REST request body Envoy accepts (413 beyond).
    max_request_bytes: int = 10 * 1024 * 1024
    # Seconds between `heartbeat` messages on /ws.
    heartbeat_seconds: float = 5.0
    # Seconds in-flight calls get to finish on shutdown.
    shutdown_grace_seconds: float = 10.0
    # LLM providers, run limits, tools and approvals (agents/config.py).
    agents: AgentsConfig = dataclasses.field(default_factory=AgentsConfig)

    @property
    def database_path(self) -> pathlib.Path:
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

    def check(self) -> None:
        """Raises ValueError with a one-line reason for settings that cannot work."""
        for name in ("grpc_port", "http_port", "bridge_port", "envoy_admin_port"):
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
        if self.max_request_bytes <= 0:
            raise ValueError("MAX_REQUEST_BYTES must be positive")
        self.agents.check()

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
            "debug_logging": _env_bool("DEBUG_LOGGING", False),
            "max_request_bytes": _env_int("MAX_REQUEST_BYTES", cls.max_request_bytes),
            "agents": AgentsConfig.from_env(),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
