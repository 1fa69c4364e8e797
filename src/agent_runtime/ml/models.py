"""Records of the ML domain, as storage keeps them."""

from __future__ import annotations

import dataclasses
from typing import Any

FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
JOB_STATUSES = ("created", "queued", "running", "succeeded", "failed", "cancelled")


# Kind of the models that a remote LLM provider serves (listed, not stored).
REMOTE = "remote"


@dataclasses.dataclass(frozen=True)
class ModelRecord:
    id: str
    name: str
    version: str
    description: str
    parameters: dict[str, float]
    kind: str  # "mlx", "fine_tuned" or REMOTE
    path: str
    adapter_path: str | None
    base_model_id: str | None
    created_at: str
    updated_at: str


@dataclasses.dataclass(frozen=True)
class FileRecord:
    id: str
    filename: str
    purpose: str
    bytes: int
    line_count: int
    format: str
    path: str
    created_at: int
    # The user who uploaded it (None: an administrator).
    owner_id: str | None = None


@dataclasses.dataclass(frozen=True)
class JobRecord:
    id: str
    model_id: str
    status: str
    created_at: str
    updated_at: str
    fine_tuned_model: str | None
    training_file: str
    validation_file: str | None
    suffix: str
    compute_config: dict[str, Any]
    hyperparameters: dict[str, Any]
    metrics: dict[str, float] | None
    error: str | None
    last_sequence: int = 0
    # The user who created it (None: an administrator).
    owner_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclasses.dataclass(frozen=True)
class JobEvent:
    job_id: str
    sequence: int
    type: str
    created_at: str
    message: str
    status: str
    metrics: dict[str, float] | None = None
    step: int = 0


@dataclasses.dataclass(frozen=True)
class JobLease:
    """A process's claim on running a fine-tuning job: its owner name, and
    the epoch the claim gave (each claim bumps it)."""

    job_id: str
    owner: str
    epoch: int
