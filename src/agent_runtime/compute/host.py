"""What the host offers the compute backends: memory, the CPU's name,
flags and cores, NumPy's BLAS, and NVIDIA GPUs (nvidia-smi) that no
installed backend can drive."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from typing import Any

import numpy as np

from agent_runtime.compute.backends import DeviceInfo


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
