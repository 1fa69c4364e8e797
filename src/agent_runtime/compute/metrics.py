"""System and task metrics: a current snapshot, a sampler that stores one
sample per interval (the series insights analyse), and the Prometheus text
exposition."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Callable

import structlog

from agent_runtime.clock import Clock, iso, utc_now
from agent_runtime.compute.ports import MetricSampleRepository
from agent_runtime.compute.records import MetricSample
from agent_runtime.compute.service import ComputeService
from agent_runtime.health import memory_usage_percent

log = structlog.get_logger(__name__)

RETENTION_SECONDS = 7 * 24 * 3600


class CpuUsage:
    """Share of CPU time in use between two readings of /proc/stat."""

    def __init__(self) -> None:
        self._last = self._read()

    @staticmethod
    def _read() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as stat:
                fields = [int(v) for v in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    def percent(self) -> float:
        current = self._read()
        last, self._last = self._last, current
        if current is None or last is None or current[0] <= last[0]:
            return 0.0
        total, idle = current[0] - last[0], current[1] - last[1]
        return round(100.0 * (total - idle) / total, 1)


def format_uptime(seconds: float) -> str:
    """`2h 15m` as the document shows; days and seconds where they matter."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


@dataclasses.dataclass
class Snapshot:
    gpu_utilization: float
    memory_usage: float
    cpu_utilization: float
    active_tasks: int
    queued_tasks: int
    tasks_completed: int
    tasks_failed: int
    ai_tasks_processed: int
    uptime_seconds: float
    devices: int


class MetricsCollector:
    def __init__(
        self,
        service: ComputeService,
        samples: MetricSampleRepository,
        *,
        interval_seconds: float = 10.0,
        ai_tasks_processed: Callable[[], int] = lambda: 0,
        clock: Clock = utc_now,
        started_at: float | None = None,
    ):
        self._service = service
        self._samples = samples
        self.interval_seconds = interval_seconds
        self._ai_tasks_processed = ai_tasks_processed
        self._clock = clock
        self._started_at = started_at if started_at is not None else time.monotonic()
        self._cpu = CpuUsage()
        self._last_cpu = 0.0
        self._last_gpu = 0.0
        self._last_gpu_busy = 0.0
        self._last_sample_at = time.monotonic()
        self._task: asyncio.Task | None = None
        self._last_prune = 0.0

    @property
    def gpu_utilization(self) -> float:
        """Percent of the last sampling interval a GPU device was busy."""
        return self._last_gpu

    def snapshot(self) -> Snapshot:
        counters = self._service.counters
        return Snapshot(
            gpu_utilization=self._last_gpu,
            memory_usage=memory_usage_percent(),
            cpu_utilization=self._last_cpu,
            active_tasks=self._service.active_tasks,
            queued_tasks=self._service.queued_tasks,
            tasks_completed=counters.completed,
            tasks_failed=counters.failed,
            ai_tasks_processed=self._ai_tasks_processed(),
            uptime_seconds=round(time.monotonic() - self._started_at, 3),
            devices=len(self._service.registry.devices),
        )

    async def sample(self) -> MetricSample:
        """Takes one sample of the interval since the last and stores it."""
        now_mono = time.monotonic()
        elapsed = max(1e-6, now_mono - self._last_sample_at)
        self._last_sample_at = now_mono
        counters = self._service.counters
        self._last_cpu = self._cpu.percent()
        gpu_busy = counters.gpu_busy_seconds - self._last_gpu_busy
        self._last_gpu_busy = counters.gpu_busy_seconds
        registry = self._service.registry
        gpu_devices = sum(1 for d in registry.devices if d.type == "gpu" and d.backend in registry.backends)
        self._last_gpu = round(min(100.0, 100.0 * gpu_busy / elapsed / gpu_devices), 1) if gpu_devices else 0.0
        finished = counters.window_finished
        now = self._clock()
        sample = MetricSample(
            epoch=now.timestamp(),
            sampled_at=iso(now),
            cpu_utilization=self._last_cpu,
            memory_usage=memory_usage_percent(),
            gpu_utilization=self._last_gpu,
            active_tasks=self._service.active_tasks,
            queued_tasks=self._service.queued_tasks,
            tasks_completed=counters.completed,
            tasks_failed=counters.failed,
            tasks_per_minute=round(finished * 60.0 / elapsed, 3),
            avg_execution_ms=round(counters.window_execution_ms / finished, 3) if finished else 0.0,
            avg_gflops=round(counters.window_gflops / counters.window_gflops_count, 3) if counters.window_gflops_count else 0.0,
            ai_tasks_processed=self._ai_tasks_processed(),
        )
        counters.window_finished = 0
        counters.window_execution_ms = 0.0
        counters.window_gflops = 0.0
        counters.window_gflops_count = 0
        await self._samples.insert_sample(sample)
        if now_mono - self._last_prune > 3600:
            self._last_prune = now_mono
            await self._samples.prune_samples(sample.epoch - RETENTION_SECONDS)
        return sample

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            try:
                await self.sample()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed sample is logged; the next one tries again
                log.exception("compute.sample_failed")

    def prometheus_text(self) -> str:
        snap = self.snapshot()
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, values: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in values:
                lines.append(f"{name}{labels} {_number(value)}")

        metric("agentruntime_uptime_seconds", "gauge", "Seconds since the server started.", [("", snap.uptime_seconds)])
        metric("agentruntime_cpu_utilization_percent", "gauge", "CPU time in use over the last sampling interval.", [("", snap.cpu_utilization)])
        metric("agentruntime_memory_usage_percent", "gauge", "System memory in use.", [("", snap.memory_usage)])
        metric("agentruntime_gpu_utilization_percent", "gauge", "Share of the last interval a GPU ran tasks.", [("", snap.gpu_utilization)])
        metric("agentruntime_compute_active_tasks", "gauge", "Compute tasks running now.", [("", snap.active_tasks)])
        metric("agentruntime_compute_queued_tasks", "gauge", "Compute tasks waiting in the queue.", [("", snap.queued_tasks)])
        metric(
            "agentruntime_compute_tasks_total",
            "counter",
            "Compute tasks finished since start, by outcome.",
            [('{outcome="completed"}', snap.tasks_completed), ('{outcome="failed"}', snap.tasks_failed)],
        )
        metric("agentruntime_ai_tasks_processed_total", "counter", "AI tasks finished since start.", [("", snap.ai_tasks_processed)])
        devices = self._service.registry.devices
        memory = [(d, d.memory()) for d in devices]
        metric(
            "agentruntime_device_memory_total_bytes",
            "gauge",
            "Memory a compute device can use.",
            [(f'{{device="{d.id}",backend="{d.backend}",type="{d.type}"}}', total) for d, (total, _) in memory],
        )
        metric(
            "agentruntime_device_memory_available_bytes",
            "gauge",
            "Memory available to a compute device now.",
            [(f'{{device="{d.id}",backend="{d.backend}",type="{d.type}"}}', available) for d, (_, available) in memory],
        )
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
