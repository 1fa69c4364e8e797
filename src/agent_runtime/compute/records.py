"""Plain records of the compute domain: tasks, metric samples and the
start-up probe's results (what storage keeps), and the devices' states and
the task counters (what the service keeps in memory)."""

from __future__ import annotations

import dataclasses
from typing import Any

# A task in one of these when the server stops never finishes: the next
# start marks it failed (TaskRepository.fail_unfinished).
UNFINISHED_STATUSES = ("queued", "running")


@dataclasses.dataclass
class TaskRecord:
    task_id: str
    operation: str
    status: str
    priority: int
    device_preference: str
    parameters: dict[str, Any]
    created_at: str
    updated_at: str
    device_used: str = ""
    output: dict[str, Any] | None = None
    error: str = ""
    execution_time: float = 0.0
    memory_used_mb: float = 0.0
    gpu_utilization: float = 0.0
    queue_time_ms: float = 0.0
    gflops: float = 0.0
    bandwidth_gb_s: float = 0.0
    started_at: str | None = None
    finished_at: str | None = None
    finished_epoch: float | None = None
    # The user who submitted it; None: an administrator (identity/ownership.py).
    owner_id: str | None = None


@dataclasses.dataclass
class MetricSample:
    epoch: float
    sampled_at: str
    cpu_utilization: float
    memory_usage: float
    gpu_utilization: float
    active_tasks: int
    queued_tasks: int
    tasks_completed: int
    tasks_failed: int
    tasks_per_minute: float
    avg_execution_ms: float
    avg_gflops: float
    ai_tasks_processed: int


@dataclasses.dataclass
class ProbeResult:
    operation: str
    size_class: str
    device_id: str
    seconds: float | None
    note: str = ""


@dataclasses.dataclass(frozen=True)
class DeviceState:
    """A device as `GET /devices` shows it, with its current status and memory."""

    id: str
    name: str
    type: str
    status: str
    capabilities: list[str]
    memory_total: float
    memory_available: float
    backend: str
    compute_units: int


@dataclasses.dataclass
class Counters:
    completed: int = 0
    failed: int = 0
    gpu_busy_seconds: float = 0.0
    # Finished since the metrics sampler last looked.
    window_finished: int = 0
    window_execution_ms: float = 0.0
    window_gflops: float = 0.0
    window_gflops_count: int = 0
