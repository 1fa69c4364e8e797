"""The backend registry: every device of every available backend, a start-up
probe that times each device on a small workload per operation and size
class, and device selection by those measurements (never by name)."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import structlog

from agent_runtime.compute.backends import Backend, Checkpoint, DeviceInfo, KernelResult
from agent_runtime.compute.host import cuda_devices_without_backend
from agent_runtime.compute.mlx_backend import MlxBackend
from agent_runtime.compute.numpy_backend import NumpyBackend
from agent_runtime.compute.operations import OPERATIONS, OperationSpec
from agent_runtime.compute.records import ProbeResult
from agent_runtime.errors import ValidationFailed

log = structlog.get_logger(__name__)

# A device this many times slower than the best in two size classes in a row
# is not probed at the next, larger class (it would only cost start-up time);
# its last figure, scaled by the work ratio, stands in.
SKIP_FACTOR = 3.0
# Each figure is the best of this many timed runs after one warm-up run,
# spread over time by a short pause between rounds: the minimum is the least
# disturbed by other work on the machine (a multi-threaded BLAS waiting for a
# descheduled thread can look 100x slower on small matrices for a moment).
PROBE_REPEATS = 5
PROBE_PAUSE_SECONDS = 0.01


def _no_checkpoint() -> None:
    return None


class BackendRegistry:
    def __init__(self, backends: list[Backend] | None = None):
        if backends is None:
            backends = [NumpyBackend(), MlxBackend()]
        self.backends: dict[str, Backend] = {b.name: b for b in backends}
        self.devices: list[DeviceInfo] = [device for backend in backends for device in backend.devices()]
        if not any("cuda" in d.capabilities for d in self.devices):
            self.devices.extend(cuda_devices_without_backend())
        self.unavailable: dict[str, str] = {
            b.name: b.unavailable_reason for b in backends if getattr(b, "unavailable_reason", "")
        }
        self.probe_results: list[ProbeResult] = []
        # (operation, size class) -> {device id: seconds}
        self._timings: dict[tuple[str, str], dict[str, float]] = {}

    def device(self, device_id: str) -> DeviceInfo | None:
        return next((d for d in self.devices if d.id == device_id), None)

    def candidates(self, spec: OperationSpec, dtype: str) -> list[DeviceInfo]:
        return [
            d
            for d in self.devices
            if d.backend in self.backends and (not spec.mlx_only or d.backend == "mlx") and dtype in d.dtypes
        ]

    def run(self, device: DeviceInfo, operation: str, params: dict[str, Any], checkpoint: Checkpoint) -> KernelResult:
        return self.backends[device.backend].run(operation, params, device, checkpoint)

    # -- probe ---------------------------------------------------------------

    def probe(self, abandon: threading.Event | None = None) -> list[ProbeResult]:
        """Times every device on each operation's probe workloads (smallest
        class first). Runs in a worker thread at start-up, and once more a
        little later; each figure is the best over the passes. Once
        `abandon` is set (shutdown) it stops between workloads, keeping and
        logging nothing."""
        started = time.perf_counter()

        def abandoned() -> bool:
            return abandon is not None and abandon.is_set()

        results: list[ProbeResult] = []
        for name, spec in OPERATIONS.items():
            slow_streak: dict[str, int] = {}
            previous: dict[str, float] = {}
            previous_work = 0.0
            for size_class, params in spec.probes.items():
                if abandoned():
                    return []
                timings: dict[str, float] = {}
                work = _work(name, params)
                measured: list[DeviceInfo] = []
                for device in self.candidates(spec, "float32"):
                    if slow_streak.get(device.id, 0) >= 2:
                        scaled = previous[device.id] * work / previous_work
                        timings[device.id] = scaled
                        note = f"scaled from the previous class: >{SKIP_FACTOR:g}x slower than the best in two classes"
                        results.append(ProbeResult(name, size_class, device.id, scaled, note))
                        continue
                    try:
                        self.run(device, name, params, _no_checkpoint)  # warm-up (first-call costs)
                    except Exception as error:  # noqa: BLE001 - a device that fails the probe is not picked
                        results.append(ProbeResult(name, size_class, device.id, None, f"failed: {type(error).__name__}: {error}"))
                        continue
                    measured.append(device)
                # Interleaved repeats: a burst of other work on the machine
                # hits every device, not just one.
                samples: dict[str, list[float]] = {d.id: [] for d in measured}
                for _ in range(PROBE_REPEATS):
                    time.sleep(PROBE_PAUSE_SECONDS)
                    for device in measured:
                        samples[device.id].append(self.run(device, name, params, _no_checkpoint).compute_seconds)
                earlier = self._timings.get((name, size_class), {})
                for device in measured:
                    # Across passes the best figure stands: a pass disturbed
                    # by other work on the machine does not undo a clean one.
                    timings[device.id] = min(samples[device.id] + ([earlier[device.id]] if device.id in earlier else []))
                    results.append(ProbeResult(name, size_class, device.id, timings[device.id]))
                best = min(timings.values(), default=math.inf)
                for device_id, seconds in timings.items():
                    slow_streak[device_id] = slow_streak.get(device_id, 0) + 1 if seconds > SKIP_FACTOR * best else 0
                self._timings[(name, size_class)] = timings
                previous, previous_work = timings, work
        if abandoned():
            # Stopped during the last workload.
            return []
        self.probe_results = results
        log.info(
            "compute.probed",
            seconds=round(time.perf_counter() - started, 3),
            picks={f"{op}/{cls}": min(t, key=t.get) for (op, cls), t in self._timings.items() if t},
        )
        return results

    # -- selection -----------------------------------------------------------

    def check_preference(self, spec: OperationSpec, params: dict[str, Any], preference: str) -> None:
        """Refuses a preference that can never be served, before queueing."""
        dtype = spec.dtype_of(params)
        candidates = self.candidates(spec, dtype)
        if not candidates:
            reason = "; ".join(self.unavailable.values())
            needs = "an MLX device" if spec.mlx_only else f"a device supporting {dtype}"
            raise ValidationFailed(
                f"{spec.name} needs {needs}, and this server has none" + (f" ({reason})" if reason else ""),
                code="DEVICE_UNAVAILABLE",
                fields={"operation": "no device can run it"},
            )
        if preference in ("auto", "cpu", "gpu"):
            return
        device = self.device(preference)
        if device is None:
            raise ValidationFailed(
                f"device_preference must be auto, cpu, gpu or a device id ({', '.join(d.id for d in self.devices)}), "
                f"got {preference!r}",
                fields={"device_preference": "unknown device"},
            )
        if device.backend not in self.backends:
            raise ValidationFailed(
                f"device {device.id} has no compute backend on this server (install MLX with CUDA support to use it); "
                "devices that can run tasks: " + ", ".join(d.id for d in candidates),
                fields={"device_preference": "device has no backend"},
            )
        if device not in candidates:
            raise ValidationFailed(
                f"device {device.id} cannot run {spec.name} with dtype {dtype}; devices that can: "
                + ", ".join(d.id for d in candidates),
                fields={"device_preference": "device cannot run this operation"},
            )

    def select(self, spec: OperationSpec, params: dict[str, Any], preference: str) -> tuple[DeviceInfo, str]:
        """The device to run on and a sentence saying why."""
        candidates = self.candidates(spec, spec.dtype_of(params))
        if preference not in ("auto", "cpu", "gpu"):
            device = self.device(preference)
            assert device is not None
            return device, f"requested device {device.id}"
        note = ""
        if preference in ("cpu", "gpu"):
            typed = [d for d in candidates if d.type == preference]
            if typed:
                candidates = typed
            else:
                note = f"; no {preference} device can run it, so every device was considered"
        size_class = spec.size_class(params)
        timings = self._timings.get((spec.name, size_class), {})
        measured = [d for d in candidates if d.id in timings]
        if not measured:
            return candidates[0], f"{preference}: no probe measurement for {spec.name}/{size_class}{note}"
        best = min(measured, key=lambda d: timings[d.id])
        figures = ", ".join(f"{d.id} {timings[d.id] * 1000:.2f} ms" for d in measured)
        return best, f"{preference}: fastest in the start-up probe for {spec.name}/{size_class} ({figures}){note}"


def _work(operation: str, params: dict[str, Any]) -> float:
    """Relative amount of work of a probe workload (for scaling)."""
    size = params.get("size", params.get("size_mb", 1))
    iterations = params.get("iterations", 1)
    if operation == "matrix_multiply" or (operation == "mlx_operation" and params.get("operation") == "matmul"):
        return float(size) ** 3 * iterations
    if operation == "mlx_operation":
        return float(size) ** 2 * iterations
    return float(size) * iterations
