"""Health report: the union of the fields that the documents' clients read
from `GET /health`, gathered from real checks."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from typing import Awaitable, Callable

import structlog

from agent_runtime import __version__
from agent_runtime.agents.catalog import AGENT_TYPES

SERVICE_NAME = "agent-runtime"

log = structlog.get_logger(__name__)


class DependencyCheck:
    """Dependency states for `/health` (name -> `connected`, `available`,
    `unavailable`, …) that stay cheap to read: a check runs at most once per
    `cache_seconds`, bounded by `timeout_seconds` (past it, or when it fails,
    every name is `unavailable`). Only the first read waits for a check;
    later reads get the last answer while a newer one is fetched in the
    background, so a hanging dependency never slows `/health` down."""

    def __init__(
        self,
        names: tuple[str, ...],
        check: Callable[[], Awaitable[dict[str, str]]],
        *,
        timeout_seconds: float,
        cache_seconds: float,
    ):
        self._names = names
        self._check = check
        self._timeout = timeout_seconds
        self._cache_seconds = cache_seconds
        self._states: dict[str, str] | None = None
        self._checked_at = 0.0
        self._refresh: asyncio.Task | None = None

    async def states(self) -> dict[str, str]:
        fresh = self._states is not None and time.monotonic() - self._checked_at < self._cache_seconds
        if fresh:
            return self._states
        if self._refresh is None:
            self._refresh = asyncio.create_task(self._run())
        if self._states is not None:
            return self._states
        return await asyncio.shield(self._refresh)

    async def _run(self) -> dict[str, str]:
        try:
            states = await asyncio.wait_for(self._check(), self._timeout)
        except Exception as error:  # noqa: BLE001 - a failing check is reported, not raised
            log.warning("health.check_failed", dependencies=list(self._names), error=repr(error))
            states = dict.fromkeys(self._names, "unavailable")
        self._states, self._checked_at, self._refresh = states, time.monotonic(), None
        return states


def llm_states(reachable: dict[str, bool]) -> dict[str, str]:
    """`llm_proxy` (the codelab document's name for the model service):
    `available` when a configured provider answers, `unavailable` when none
    does, `not_configured` without providers; and `llm.<provider>` for each
    configured provider."""
    states = {f"llm.{provider}": "available" if ok else "unavailable" for provider, ok in reachable.items()}
    overall = "not_configured" if not reachable else "available" if any(reachable.values()) else "unavailable"
    return {"llm_proxy": overall, **states}


@dataclasses.dataclass
class MultiAgentSettings:
    enabled: bool
    default_agent: str


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
    """Reads each registered dependency check; any state other than
    `connected`/`available`/`not_configured` makes the status `degraded`."""

    # The sandbox states other than `unavailable` (commands refused) are
    # what an administrator chose, not faults.
    HEALTHY_STATES = frozenset({"connected", "available", "not_configured", "bubblewrap", "sandbox-exec", "none"})

    def __init__(
        self,
        multi_agent: MultiAgentSettings,
        checks: list[DependencyCheck],
        *,
        device_count: Callable[[], int],
        active_tasks: Callable[[], int],
        ai_tasks_processed: Callable[[], int],
        gpu_utilization: Callable[[], float],
        started_at: float | None = None,
    ):
        self._checks = checks
        self._multi_agent = multi_agent
        self._started_at = started_at if started_at is not None else time.monotonic()
        self.device_count = device_count
        self.active_tasks = active_tasks
        self.ai_tasks_processed = ai_tasks_processed
        self.gpu_utilization = gpu_utilization

    async def report(self) -> HealthReport:
        dependencies: dict[str, str] = {}
        for states in await asyncio.gather(*(check.states() for check in self._checks)):
            dependencies.update(states)
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
