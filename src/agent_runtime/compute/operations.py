"""The documented operations: their parameters (checked before anything is
allocated), memory estimates, size classes and the probe workloads that
measure each backend per size class."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

from agent_runtime.compute.backends import FLOAT_DTYPES
from agent_runtime.errors import PayloadTooLarge, ValidationFailed

MAX_ITERATIONS = 1000
# Above this, JSON numbers are no longer exact integers (`1e300` arrives as a
# float that only looks integral); the memory limit refuses sizes long before.
MAX_EXACT_INTEGER = 2**53 - 1
VECTOR_OPS = ("add", "multiply", "dot")
MLX_OPS = ("matmul", "softmax", "sum", "exp")
_ITEMSIZE = {"float16": 2, "float32": 4, "float64": 8}


@dataclasses.dataclass(frozen=True)
class Param:
    kind: str  # int | dtype | vector_ops | mlx_op
    default: Any
    minimum: int = 1
    maximum: int = MAX_EXACT_INTEGER
    help: str = ""


@dataclasses.dataclass(frozen=True)
class OperationSpec:
    name: str
    params: dict[str, Param]
    # Bytes the kernel allocates, estimated from the checked parameters.
    memory_bytes: Callable[[dict[str, Any]], int]
    # Size class for device selection, and the workload that probes it.
    size_class: Callable[[dict[str, Any]], str]
    probes: dict[str, dict[str, Any]]
    mlx_only: bool = False

    def dtype_of(self, params: dict[str, Any]) -> str:
        return params.get("dtype", "float32")


def _matmul_bytes(p: dict[str, Any]) -> int:
    # a, b, c plus the float32 randoms a and b are drawn from.
    return (3 * _ITEMSIZE[p["dtype"]] + 8) * p["size"] ** 2


OPERATIONS: dict[str, OperationSpec] = {
    "matrix_multiply": OperationSpec(
        name="matrix_multiply",
        params={
            "size": Param("int", 1024, help="rows (= columns) of the square matrices"),
            "iterations": Param("int", 1, maximum=MAX_ITERATIONS),
            "dtype": Param("dtype", "float32"),
        },
        memory_bytes=_matmul_bytes,
        size_class=lambda p: "small" if p["size"] <= 256 else "medium" if p["size"] <= 1024 else "large",
        probes={
            "small": {"size": 128, "iterations": 3, "dtype": "float32"},
            "medium": {"size": 512, "iterations": 1, "dtype": "float32"},
            "large": {"size": 1024, "iterations": 1, "dtype": "float32"},
        },
    ),
    "vector_operations": OperationSpec(
        name="vector_operations",
        params={
            "size": Param("int", 1_000_000, help="elements per vector"),
            "iterations": Param("int", 10, maximum=MAX_ITERATIONS),
            "operations": Param("vector_ops", list(VECTOR_OPS)),
        },
        memory_bytes=lambda p: 3 * 4 * p["size"],
        size_class=lambda p: "small" if p["size"] <= 100_000 else "large",
        probes={
            "small": {"size": 10_000, "iterations": 5, "operations": list(VECTOR_OPS)},
            "large": {"size": 1_000_000, "iterations": 2, "operations": list(VECTOR_OPS)},
        },
    ),
    "memory_bandwidth": OperationSpec(
        name="memory_bandwidth",
        params={
            "size_mb": Param("int", 64, help="megabytes copied per iteration"),
            "iterations": Param("int", 5, maximum=MAX_ITERATIONS),
        },
        memory_bytes=lambda p: 2 * p["size_mb"] * 1024 * 1024,
        size_class=lambda p: "small" if p["size_mb"] <= 16 else "large",
        probes={"small": {"size_mb": 4, "iterations": 3}, "large": {"size_mb": 32, "iterations": 2}},
    ),
    "compute": OperationSpec(
        name="compute",
        params={
            "size": Param("int", 1_000_000, help="elements the polynomial is evaluated on"),
            "iterations": Param("int", 10, maximum=MAX_ITERATIONS),
        },
        memory_bytes=lambda p: 4 * 4 * p["size"],
        size_class=lambda p: "small" if p["size"] <= 100_000 else "large",
        probes={"small": {"size": 10_000, "iterations": 5}, "large": {"size": 1_000_000, "iterations": 1}},
    ),
    "mlx_operation": OperationSpec(
        name="mlx_operation",
        params={
            "operation": Param("mlx_op", "matmul"),
            "size": Param("int", 512, help="rows (= columns) of the input matrix"),
            "iterations": Param("int", 1, maximum=MAX_ITERATIONS),
        },
        memory_bytes=lambda p: 4 * 4 * p["size"] ** 2,
        size_class=lambda p: "small" if p["size"] <= 512 else "large",
        probes={
            "small": {"operation": "matmul", "size": 128, "iterations": 2},
            "large": {"operation": "matmul", "size": 512, "iterations": 1},
        },
        mlx_only=True,
    ),
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value!r}"
    if value is None:
        return "null"
    if isinstance(value, (list, dict)):
        return "array" if isinstance(value, list) else "object"
    return repr(value)


def _check_int(name: str, value: Any, spec: Param) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value != int(value):
        raise ValidationFailed(
            f"parameters.{name} must be an integer, got {_describe(value)}",
            fields={f"parameters.{name}": "must be an integer"},
        )
    number = int(value)
    if number < spec.minimum:
        raise ValidationFailed(
            f"parameters.{name} must be at least {spec.minimum}, got {number}",
            fields={f"parameters.{name}": f"must be >= {spec.minimum}"},
        )
    if number > spec.maximum:
        raise ValidationFailed(
            f"parameters.{name} must be at most {spec.maximum}, got {number}",
            fields={f"parameters.{name}": f"must be <= {spec.maximum}"},
        )
    return number


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValidationFailed(
            f"parameters.{name} must be one of {', '.join(choices)}, got {_describe(value)}",
            fields={f"parameters.{name}": "must be one of " + ", ".join(choices)},
        )
    return value


def check_parameters(operation: str, raw: dict[str, Any], *, max_task_bytes: int) -> tuple[OperationSpec, dict[str, Any]]:
    """Checks `raw` against the operation's parameters and the memory limit.
    Unknown parameter names are refused so that a typo is not silently
    ignored. Raises ValidationFailed (422) or PayloadTooLarge (413)."""
    spec = OPERATIONS.get(operation)
    if spec is None:
        raise ValidationFailed(
            f"operation must be one of {', '.join(OPERATIONS)}, got {_describe(operation) if operation else 'nothing'}",
            fields={"operation": "unknown operation"},
        )
    unknown = sorted(set(raw) - set(spec.params))
    if unknown:
        raise ValidationFailed(
            f"{operation} takes the parameters {', '.join(spec.params)}; unknown: {', '.join(unknown)}",
            fields={f"parameters.{name}": "unknown parameter" for name in unknown},
        )
    params: dict[str, Any] = {}
    for name, param in spec.params.items():
        value = raw.get(name, param.default)
        if param.kind == "int":
            params[name] = _check_int(name, value, param)
        elif param.kind == "dtype":
            params[name] = _check_choice(name, value, FLOAT_DTYPES)
        elif param.kind == "mlx_op":
            params[name] = _check_choice(name, value, MLX_OPS)
        elif param.kind == "vector_ops":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not value:
                raise ValidationFailed(
                    f"parameters.{name} must be a non-empty list of {', '.join(VECTOR_OPS)}, got {_describe(value)}",
                    fields={f"parameters.{name}": "must be a non-empty list"},
                )
            params[name] = [_check_choice(name, item, VECTOR_OPS) for item in value]
    needed = spec.memory_bytes(params)
    if needed > max_task_bytes:
        shown = {k: v for k, v in params.items() if k in ("size", "size_mb", "dtype")}
        raise PayloadTooLarge(
            f"{operation} with {shown} would allocate about {_human_bytes(needed)}; the limit per task is "
            f"{_human_bytes(max_task_bytes)} (COMPUTE_MAX_TASK_MEMORY_MB): use a smaller size",
            code="TASK_TOO_LARGE",
        )
    return spec, params


def _human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if count < 1024 or unit == "PB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} PB"
