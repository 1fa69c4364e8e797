"""The MLX backend: kernels on each device MLX offers (its CPU stream, a
Metal GPU, a CUDA GPU)."""

from __future__ import annotations

import threading
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
from agent_runtime.compute.host import cpu_count, cpu_flags, cpu_name, system_memory


class MlxBackend:
    """MLX on each device it offers. MLX work is serialised by a lock: the
    graph evaluation is not meant to be driven from several threads at once."""

    name = "mlx"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        try:
            import mlx.core as mx
        except Exception as error:  # noqa: BLE001 - any import failure means "not available"
            self.mx = None
            self.unavailable_reason = f"MLX cannot be imported: {type(error).__name__}: {error}"
        else:
            self.mx = mx
            self.unavailable_reason = ""

    @property
    def available(self) -> bool:
        return self.mx is not None

    def devices(self) -> list[DeviceInfo]:
        mx = self.mx
        if mx is None:
            return []
        found = [
            DeviceInfo(
                id="mlx_cpu_0",
                name=f"MLX CPU ({cpu_name()})",
                type="cpu",
                backend=self.name,
                capabilities=["mlx", *sorted(cpu_flags())],
                compute_units=cpu_count(),
                dtypes=FLOAT_DTYPES,
                memory=system_memory,
                handle=mx.cpu,
            )
        ]
        if mx.metal.is_available():
            info = _mlx_device_info(mx)
            total = float(info.get("memory_size", 0)) or system_memory()[0]

            def metal_memory() -> tuple[float, float]:
                return total, max(0.0, total - float(mx.get_active_memory()))

            found.append(
                DeviceInfo(
                    id="mlx_gpu_0",
                    name=str(info.get("device_name", "Apple GPU")),
                    type="gpu",
                    backend=self.name,
                    capabilities=["mlx", "metal", "unified_memory"],
                    compute_units=int(info.get("gpu_cores", 0) or 0),
                    dtypes=("float32", "float16"),
                    memory=metal_memory,
                    handle=mx.gpu,
                )
            )
        elif _mlx_cuda_available(mx):
            info = _mlx_device_info(mx)
            total = float(info.get("memory_size", 0) or info.get("total_memory", 0))

            def cuda_memory() -> tuple[float, float]:
                return total, max(0.0, total - float(mx.get_active_memory()))

            found.append(
                DeviceInfo(
                    id="mlx_gpu_0",
                    name=str(info.get("device_name", "CUDA GPU")),
                    type="gpu",
                    backend=self.name,
                    capabilities=["mlx", "cuda"],
                    compute_units=0,
                    dtypes=("float32", "float16"),
                    memory=cuda_memory,
                    handle=mx.gpu,
                )
            )
        return found

    def run(self, operation: str, params: dict[str, Any], device: DeviceInfo, checkpoint: Checkpoint) -> KernelResult:
        mx = self.mx
        assert mx is not None
        with self._lock, mx.stream(device.handle):
            if operation == "mlx_operation":
                return self._mlx_operation(params, device, checkpoint)
            return getattr(self, "_" + operation)(params, checkpoint)

    def _dtype(self, name: str):
        return getattr(self.mx, name)

    def _matrix_multiply(self, params: dict[str, Any], checkpoint: Checkpoint) -> KernelResult:
        mx = self.mx
        n, iterations = params["size"], params["iterations"]
        dtype = self._dtype(params["dtype"])
        key = mx.random.key(0)
        a = mx.random.uniform(shape=(n, n), key=key).astype(dtype)
        b = mx.random.uniform(shape=(n, n), key=mx.random.split(key)[0]).astype(dtype)
        mx.eval(a, b)
        holder: dict[str, Any] = {}

        def step():
            holder["c"] = mx.matmul(a, b)
            mx.eval(holder["c"])

        elapsed, _ = timed_loop(iterations, step, checkpoint)
        checksum = float(holder["c"].astype(mx.float32).sum().item())
        return KernelResult(elapsed, {"shape": [n, n], "checksum": checksum}, flops=2.0 * n**3 * iterations)

    def _vector_operations(self, params: dict[str, Any], checkpoint: Checkpoint) -> KernelResult:
        mx = self.mx
        n, iterations, ops = params["size"], params["iterations"], params["operations"]
        key = mx.random.key(0)
        a = mx.random.uniform(shape=(n,), key=key)
        b = mx.random.uniform(shape=(n,), key=mx.random.split(key)[0])
        mx.eval(a, b)
        steps = {"add": lambda: a + b, "multiply": lambda: a * b, "dot": lambda: mx.inner(a, b)}
        per_op, results = {}, {}
        for op in ops:
            holder: dict[str, Any] = {}

            def step(op=op, holder=holder):
                holder["v"] = steps[op]()
                mx.eval(holder["v"])

            per_op[op], _ = timed_loop(iterations, step, checkpoint)
            results[op] = float(holder["v"].item()) if op == "dot" else float(holder["v"].sum().item())
        flops, moved = vector_work(n, iterations, ops, 4)
        return KernelResult(
            sum(per_op.values()),
            {"length": n, "checksums": results, "op_seconds": {k: round(v, 6) for k, v in per_op.items()}},
            flops=flops,
            bytes_moved=moved,
        )

    def _memory_bandwidth(self, params: dict[str, Any], checkpoint: Checkpoint) -> KernelResult:
        mx = self.mx
        count = params["size_mb"] * 1024 * 1024 // 4
        src = mx.ones((count,), dtype=mx.float32)
        mx.eval(src)
        holder: dict[str, Any] = {}

        def step():
            # An element-wise pass reads and writes every byte once, as a copy does.
            holder["dst"] = src * 1.0
            mx.eval(holder["dst"])

        elapsed, _ = timed_loop(params["iterations"], step, checkpoint)
        return KernelResult(
            elapsed,
            {"bytes_per_copy": count * 4, "checksum": float(holder["dst"][:: max(1, count // 1024)].sum().item())},
            bytes_moved=2.0 * count * 4 * params["iterations"],
        )

    def _compute(self, params: dict[str, Any], checkpoint: Checkpoint) -> KernelResult:
        mx = self.mx
        n, iterations = params["size"], params["iterations"]
        coefficients = [float(c) for c in np.linspace(1.0, 0.1, POLY_DEGREE + 1)]
        x = mx.random.uniform(shape=(n,), key=mx.random.key(0))
        mx.eval(x)
        holder: dict[str, Any] = {}

        def step():
            y = mx.full((n,), coefficients[0])
            for coefficient in coefficients[1:]:
                y = y * x + coefficient
            holder["sum"] = y.sum()
            mx.eval(holder["sum"])

        elapsed, _ = timed_loop(iterations, step, checkpoint)
        return KernelResult(
            elapsed,
            {"length": n, "polynomial_degree": POLY_DEGREE, "checksum": float(holder["sum"].item())},
            flops=(2.0 * POLY_DEGREE + 1) * n * iterations,
        )

    def _mlx_operation(self, params: dict[str, Any], device: DeviceInfo, checkpoint: Checkpoint) -> KernelResult:
        mx = self.mx
        kind, n, iterations = params["operation"], params["size"], params["iterations"]
        if kind == "matmul":
            result = self._matrix_multiply({"size": n, "iterations": iterations, "dtype": "float32"}, checkpoint)
            result.output["operation"] = kind
            return result
        x = mx.random.normal(shape=(n, n), key=mx.random.key(0))
        mx.eval(x)
        ops = {
            "softmax": (lambda: mx.softmax(x, axis=-1), 5.0),
            "sum": (lambda: mx.sum(x, axis=-1), 1.0),
            "exp": (lambda: mx.exp(x), 1.0),
        }
        compute, flops_per_element = ops[kind]
        holder: dict[str, Any] = {}

        def step():
            holder["y"] = compute()
            mx.eval(holder["y"])

        elapsed, _ = timed_loop(iterations, step, checkpoint)
        y = holder["y"]
        return KernelResult(
            elapsed,
            {"operation": kind, "shape": list(y.shape), "checksum": float(y.astype(mx.float32).sum().item())},
            flops=flops_per_element * n * n * iterations,
            bytes_moved=(4.0 * n * n + 4.0 * y.size) * iterations,
        )


def _mlx_device_info(mx) -> dict[str, Any]:
    for getter in (getattr(mx, "device_info", None), getattr(mx.metal, "device_info", None)):
        if getter is None:
            continue
        try:
            return dict(getter())
        except Exception:  # noqa: BLE001 - detail only
            continue
    return {}


def _mlx_cuda_available(mx) -> bool:
    cuda = getattr(mx, "cuda", None)
    try:
        return bool(cuda is not None and cuda.is_available())
    except Exception:  # noqa: BLE001
        return False
