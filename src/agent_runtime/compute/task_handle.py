"""A compute task while this process has it (compute/service.py): its
record, what it runs with, how it is stopped, and what a finished run sets
on its record."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from typing import Any

from agent_runtime.compute.backends import DeviceInfo, KernelResult
from agent_runtime.compute.records import TaskRecord

CANCELLED_BY_REQUEST = "cancelled by request"


class Stop(Exception):
    """Raised at a checkpoint: the task ends with `status` and `reason`."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclasses.dataclass
class TaskHandle:
    record: TaskRecord
    params: dict[str, Any]
    spec: Any
    timeout: float
    done: asyncio.Future
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    cancel_reason: str = CANCELLED_BY_REQUEST
    enqueued: float = dataclasses.field(default_factory=time.monotonic)


def record_result(handle: TaskHandle, device: DeviceInfo, result: KernelResult, wall: float, selection: str) -> None:
    """Sets the figures and the output of a run that finished on `device`
    in `wall` seconds on the handle's record."""
    record = handle.record
    compute = result.compute_seconds
    gflops = result.flops / compute / 1e9 if result.flops and compute > 0 else 0.0
    bandwidth = result.bytes_moved / compute / 1e9 if result.bytes_moved and compute > 0 else 0.0
    memory_mb = handle.spec.memory_bytes(handle.params) / (1024 * 1024)
    record.execution_time = round(wall, 6)
    record.gflops = round(gflops, 3)
    record.bandwidth_gb_s = round(bandwidth, 3)
    record.memory_used_mb = round(memory_mb, 3)
    if device.type == "gpu":
        record.gpu_utilization = round(100.0 * min(1.0, compute / wall), 1) if wall > 0 else 0.0
    output = {
        **result.output,
        "operation": record.operation,
        "backend": device.backend,
        "device": device.id,
        "compute_time": round(compute, 6),
        "parameters": handle.params,
        "selection": selection,
    }
    if result.flops:
        output["gflops"] = record.gflops
    if result.bytes_moved:
        output["bandwidth_gb_s"] = record.bandwidth_gb_s
    record.output = output
