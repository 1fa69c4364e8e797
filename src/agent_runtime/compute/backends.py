"""Compute backends and the devices they run on, detected at start-up.

A backend runs the kernels of every operation on one of its devices:
`NumpyBackend` (numpy_backend.py) on the CPU through NumPy's BLAS, `MlxBackend`
(mlx_backend.py) on each MLX device (its CPU stream, a Metal GPU, a CUDA GPU).
This module holds what they share: the device and result records, the
protocol, and the timing loop.

Kernels run in a worker thread; they call `checkpoint()` between iterations
so that a cancelled or timed-out task stops there.

Every kernel returns a `KernelResult` whose `compute_seconds` covers only the
timed iterations (inputs are created before the clock starts), so throughput
figures compare with a plain NumPy/MLX loop measured the same way.
"""


from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Protocol

Checkpoint = Callable[[], None]

FLOAT_DTYPES = ("float32", "float64", "float16")


@dataclasses.dataclass
class DeviceInfo:
    id: str
    name: str
    type: str  # cpu | gpu
    backend: str  # numpy | mlx
    capabilities: list[str]
    compute_units: int
    dtypes: tuple[str, ...]
    # Callables so each listing reports current figures.
    memory: Callable[[], tuple[float, float]]
    # Handle the backend uses to address the device (e.g. mx.gpu).
    handle: Any = None


@dataclasses.dataclass
class KernelResult:
    compute_seconds: float
    output: dict[str, Any]
    flops: float = 0.0
    bytes_moved: float = 0.0



class Backend(Protocol):
    name: str

    def devices(self) -> list[DeviceInfo]: ...

    def run(self, operation: str, params: dict[str, Any], device: DeviceInfo, checkpoint: Checkpoint) -> KernelResult: ...


def timed_loop(iterations: int, step: Callable[[], Any], checkpoint: Checkpoint) -> tuple[float, Any]:
    elapsed, value = 0.0, None
    for _ in range(iterations):
        checkpoint()
        started = time.perf_counter()
        value = step()
        elapsed += time.perf_counter() - started
    return elapsed, value



POLY_DEGREE = 8


def vector_work(n: int, iterations: int, ops: list[str], itemsize: int) -> tuple[float, float]:
    flops = moved = 0.0
    for op in ops:
        flops += (2.0 if op == "dot" else 1.0) * n * iterations
        moved += (2.0 if op == "dot" else 3.0) * n * itemsize * iterations
    return flops, moved


