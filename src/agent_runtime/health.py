"""Health report: the union of the fields that the documents' clients read
from `GET /health`, gathered from real checks."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Awaitable, Callable

from agent_runtime import __version__
from agent_runtime.agents.catalog import AGENT_TYPES

SERVICE_NAME = "agent-runtime"

DependencyCheck = Callable[[], Awaitable[str]]


@dataclasses.dataclass
class MultiAgentSettings:
    enabled: bool
    default_agent: str

    @classmethod
    def from_env(cls) -> "MultiAgentSettings":
        enabled = os.environ.get("AGENT_RUNTIME__MULTI_AGENT_ENABLED", "true").strip().lower()
        return cls(
            enabled=enabled in {"1", "true", "yes", "on"},
            default_agent=os.environ.get("AGENT_RUNTIME__DEFAULT_AGENT", "orchestrator"),
        )


@dataclasses.dataclass
class HealthReport:
    status: str
    service: str
    version: str
    devices: int
    memory_usage: float
    active_tasks: int
    ai_tasks_processed: int
    gpu_utilization: float
    dependencies: dict[str, str]
    multi_agent: MultiAgentSettings
    agents_count: int
    uptime_seconds: float


def memory_usage_percent() -> float:
    """Share of system memory in use, from /proc/meminfo (Linux) or sysconf."""
    try:
        with open("/proc/meminfo") as meminfo:
            fields = {line.split(":")[0]: int(line.split()[1]) for line in meminfo if ":" in line}
        total, available = fields["MemTotal"], fields["MemAvailable"]
    except (OSError, KeyError, ValueError):
        total = os.sysconf("SC_PHYS_PAGES")
        available = os.sysconf("SC_AVPHYS_PAGES")
    return round(100.0 * (total - available) / total, 1) if total else 0.0


class HealthReporter:
    """Runs each registered dependency check; any answer other than
    `connected`/`available`/`not_configured` makes the status `degraded`."""

    HEALTHY_STATES = frozenset({"connected", "available", "not_configured"})

    def __init__(self, multi_agent: MultiAgentSettings, started_at: float | None = None):
        self._checks: dict[str, DependencyCheck] = {}
        self._multi_agent = multi_agent
        self._started_at = started_at if started_at is not None else time.monotonic()
        self.device_count: Callable[[], int] = lambda: 1
        self.active_tasks: Callable[[], int] = lambda: 0
        self.ai_tasks_processed: Callable[[], int] = lambda: 0
        self.gpu_utilization: Callable[[], float] = lambda: 0.0

    def add_dependency(self, name: str, check: DependencyCheck) -> None:
        self._checks[name] = check

    async def report(self) -> HealthReport:
        dependencies = {}
        for name, check in self._checks.items():
            try:
                dependencies[name] = await check()
            except Exception as error:  # noqa: BLE001 - a failing check is reported, not raised
                dependencies[name] = f"error: {type(error).__name__}"
        healthy = all(state in self.HEALTHY_STATES for state in dependencies.values())
        return HealthReport(
            status="healthy" if healthy else "degraded",
            service=SERVICE_NAME,
            version=__version__,
            devices=self.device_count(),
            memory_usage=memory_usage_percent(),
            active_tasks=self.active_tasks(),
            ai_tasks_processed=self.ai_tasks_processed(),
            gpu_utilization=self.gpu_utilization(),
            dependencies=dependencies,
            multi_agent=self._multi_agent,
            agents_count=len(AGENT_TYPES),
            uptime_seconds=round(time.monotonic() - self._started_at, 3),
        )
