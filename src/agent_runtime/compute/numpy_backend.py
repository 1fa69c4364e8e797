"""The NumPy backend: kernels on the CPU, matrix products through NumPy's
BLAS (OpenBLAS in the wheels)."""

from __future__ import annotations

from typing import Any

import numpy as np

from agent_runtime.compute.backends import (
    FLOAT_DTYPES,
    POLY_DEGREE,
    Checkpoint,
    DeviceInfo,
    KernelResult,
    timed_loop,
    vector_work,
)
from agent_runtime.compute.host import cpu_count, cpu_flags, cpu_name, numpy_blas, system_memory


class NumpyBackend:
    """NumPy on the CPU; matrix products go to its BLAS."""

    name = "numpy"

    def devices(self) -> list[DeviceInfo]:
        capabilities = ["numpy", *numpy_blas(), *sorted(cpu_flags())]
        return [
            DeviceInfo(
                id="cpu_0",
                name=cpu_name(),
                type="cpu",
                backend=self.name,
                capabilities=capabilities,
                compute_units=cpu_count(),
                dtypes=FLOAT_DTYPES,
                memory=system_memory,
            )
        ]

    def run(self, operation: str, params: dict[str, Any], device: DeviceInfo, checkpoint: Checkpoint) -> KernelResult:
        return getattr(self, "_" + operation)(params, checkpoint)

    @staticmethod
    def _matrix_multiply(params: dict[str, Any], checkpoint: Checkpoint) -> KernelResult:
        n, iterations, dtype = params["size"], params["iterations"], np.dtype(params["dtype"])
        rng = np.random.default_rng(0)
        a = rng.random((n, n), dtype=np.float32).astype(dtype, copy=False)
        b = rng.random((n, n), dtype=np.float32).astype(dtype, copy=False)
        c = np.empty((n, n), dtype=dtype)
        elapsed, _ = timed_loop(iterations, lambda: np.matmul(a, b, out=c), checkpoint)
        return KernelResult(
            elapsed,
            {"shape": [n, n], "checksum": float(c.sum(dtype=np.float64))},
            flops=2.0 * n**3 * iterations,
        )

    @staticmethod
    def _vector_operations(params: dict[str, Any], checkpoint: Checkpoint) -> KernelResult:
        n, iterations, ops = params["size"], params["iterations"], params["operations"]
        rng = np.random.default_rng(0)
        a = rng.random(n, dtype=np.float32)
        b = rng.random(n, dtype=np.float32)
        c = np.empty(n, dtype=np.float32)
        steps = {
            "add": lambda: np.add(a, b, out=c),
            "multiply": lambda: np.multiply(a, b, out=c),
            "dot": lambda: np.dot(a, b),
        }
        per_op, results = {}, {}
        for op in ops:
            per_op[op], value = timed_loop(iterations, steps[op], checkpoint)
            results[op] = float(value) if op == "dot" else float(c.sum(dtype=np.float64))
        flops, moved = vector_work(n, iterations, ops, 4)
        return KernelResult(
            sum(per_op.values()),
            {"length": n, "checksums": results, "op_seconds": {k: round(v, 6) for k, v in per_op.items()}},
            flops=flops,
            bytes_moved=moved,
        )

    @staticmethod
    def _memory_bandwidth(params: dict[str, Any], checkpoint: Checkpoint) -> KernelResult:
        nbytes, iterations = params["size_mb"] * 1024 * 1024, params["iterations"]
        src = np.ones(nbytes // 8, dtype=np.float64)
        dst = np.zeros_like(src)
        np.copyto(dst, src)  # touch the pages before timing
        elapsed, _ = timed_loop(iterations, lambda: np.copyto(dst, src), checkpoint)
        return KernelResult(
            elapsed,
            {"bytes_per_copy": int(src.nbytes), "checksum": float(dst[:: max(1, len(dst) // 1024)].sum())},
            bytes_moved=2.0 * src.nbytes * iterations,
        )

    @staticmethod
    def _compute(params: dict[str, Any], checkpoint: Checkpoint) -> KernelResult:
        n, iterations = params["size"], params["iterations"]
        coefficients = np.linspace(1.0, 0.1, POLY_DEGREE + 1, dtype=np.float32)
        x = np.random.default_rng(0).random(n, dtype=np.float32)
        y = np.empty(n, dtype=np.float32)

        def step():
            y.fill(coefficients[0])
            for coefficient in coefficients[1:]:
                np.multiply(y, x, out=y)
                np.add(y, coefficient, out=y)
            return float(y.sum(dtype=np.float64))

        elapsed, total = timed_loop(iterations, step, checkpoint)
        return KernelResult(
            elapsed,
            {"length": n, "polynomial_degree": POLY_DEGREE, "checksum": total},
            flops=(2.0 * POLY_DEGREE + 1) * n * iterations,
        )

