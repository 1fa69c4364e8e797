"""Compute backends and the devices they run on, detected at start-up.

A backend runs the kernels of every operation on one of its devices:
`NumpyBackend` on the CPU through NumPy's BLAS (OpenBLAS in the wheels),
`MlxBackend` on each MLX device (its CPU stream, a Metal GPU, a CUDA GPU).
Kernels run in a worker thread; they call `checkpoint()` between iterations
so that a cancelled or timed-out task stops there.

Every kernel returns a `KernelResult` whose `compute_seconds` covers only the
timed iterations (inputs are created before the clock starts), so throughput
figures compare with a plain NumPy/MLX loop measured the same way.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import subprocess
import threading
import time
from typing import Any, Callable, Protocol

import numpy as np

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


def system_memory() -> tuple[float, float]:
    """(total, available) bytes of system memory."""
    try:
        with open("/proc/meminfo") as meminfo:
            fields = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in meminfo if ":" in line}
        return float(fields["MemTotal"]), float(fields["MemAvailable"])
    except (OSError, KeyError, ValueError):
        page = os.sysconf("SC_PAGE_SIZE")
        return float(os.sysconf("SC_PHYS_PAGES") * page), float(os.sysconf("SC_AVPHYS_PAGES") * page)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """Instruction-set capabilities read from the CPU's own flags."""
    found: set[str] = set()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("flags", "Features")):
                    flags = set(line.split(":", 1)[1].split())
                    break
            else:
                flags = set()
    except OSError:
        flags = set()
    for flag, name in (("avx", "avx"), ("avx2", "avx2"), ("fma", "fma"), ("avx512f", "avx512"), ("asimd", "neon")):
        if flag in flags:
            found.add(name)
    if platform.machine() in ("arm64", "aarch64") and not flags:
        found.add("neon")  # macOS has no /proc/cpuinfo; every arm64 core has NEON
    return found


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def numpy_blas() -> list[str]:
    """`blas` plus the BLAS library's name, as NumPy's build reports it."""
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
    except Exception:  # noqa: BLE001 - older NumPy: report no BLAS detail
        return []
    if not blas.get("found"):
        return []
    name = str(blas.get("name", "")).lower()
    names = ["blas"]
    for known in ("openblas", "mkl", "accelerate", "blis"):
        if known in name:
            names.append(known)
    return names


NVIDIA_QUERY = "index,name,memory.total,memory.free,compute_cap"


def parse_nvidia_smi(text: str) -> list[dict[str, Any]]:
    """Rows of `nvidia-smi --query-gpu=index,name,memory.total,memory.free,
    compute_cap --format=csv,noheader,nounits` (memory in MiB)."""
    gpus = []
    for line in text.strip().splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 5:
            continue
        try:
            gpus.append(
                {
                    "index": int(parts[0]),
                    "name": parts[1],
                    "memory_total": float(parts[2]) * 1024 * 1024,
                    "memory_free": float(parts[3]) * 1024 * 1024,
                    "compute_cap": parts[4],
                }
            )
        except ValueError:
            continue
    return gpus


def nvidia_gpus() -> list[dict[str, Any]]:
    """CUDA GPUs as the NVIDIA driver reports them; none without nvidia-smi."""
    binary = shutil.which("nvidia-smi")
    if binary is None:
        return []
    try:
        done = subprocess.run(
            [binary, f"--query-gpu={NVIDIA_QUERY}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_nvidia_smi(done.stdout)


def cuda_devices_without_backend() -> list[DeviceInfo]:
    """CUDA GPUs that no installed backend drives (MLX here is the CPU build):
    listed with their real memory so clients see them, never picked for work
    (no dtypes)."""
    devices = []
    for gpu in nvidia_gpus():

        def memory(index: int = gpu["index"], total: float = gpu["memory_total"]) -> tuple[float, float]:
            current = next((g for g in nvidia_gpus() if g["index"] == index), None)
            return total, current["memory_free"] if current else 0.0

        devices.append(
            DeviceInfo(
                id=f"cuda_{gpu['index']}",
                name=gpu["name"],
                type="gpu",
                backend="none",
                capabilities=["cuda", f"compute_capability_{gpu['compute_cap']}"],
                compute_units=0,
                dtypes=(),
                memory=memory,
            )
        )
    return devices


class Backend(Protocol):
    name: str

    def devices(self) -> list[DeviceInfo]: ...

    def run(self, operation: str, params: dict[str, Any], device: DeviceInfo, checkpoint: Checkpoint) -> KernelResult: ...


def _timed_loop(iterations: int, step: Callable[[], Any], checkpoint: Checkpoint) -> tuple[float, Any]:
    elapsed, value = 0.0, None
    for _ in range(iterations):
        checkpoint()
        started = time.perf_counter()
        value = step()
        elapsed += time.perf_counter() - started
    return elapsed, value


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
        elapsed, _ = _timed_loop(iterations, lambda: np.matmul(a, b, out=c), checkpoint)
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
            per_op[op], value = _timed_loop(iterations, steps[op], checkpoint)
            results[op] = float(value) if op == "dot" else float(c.sum(dtype=np.float64))
        flops, moved = _vector_work(n, iterations, ops, 4)
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
        elapsed, _ = _timed_loop(iterations, lambda: np.copyto(dst, src), checkpoint)
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

        elapsed, total = _timed_loop(iterations, step, checkpoint)
        return KernelResult(
            elapsed,
            {"length": n, "polynomial_degree": POLY_DEGREE, "checksum": total},
            flops=(2.0 * POLY_DEGREE + 1) * n * iterations,
        )


POLY_DEGREE = 8


def _vector_work(n: int, iterations: int, ops: list[str], itemsize: int) -> tuple[float, float]:
    flops = moved = 0.0
    for op in ops:
        flops += (2.0 if op == "dot" else 1.0) * n * iterations
        moved += (2.0 if op == "dot" else 3.0) * n * itemsize * iterations
    return flops, moved


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

        elapsed, _ = _timed_loop(iterations, step, checkpoint)
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

            per_op[op], _ = _timed_loop(iterations, step, checkpoint)
            results[op] = float(holder["v"].item()) if op == "dot" else float(holder["v"].sum().item())
        flops, moved = _vector_work(n, iterations, ops, 4)
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

        elapsed, _ = _timed_loop(params["iterations"], step, checkpoint)
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

        elapsed, _ = _timed_loop(iterations, step, checkpoint)
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

        elapsed, _ = _timed_loop(iterations, step, checkpoint)
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
