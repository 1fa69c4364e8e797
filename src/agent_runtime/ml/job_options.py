"""The options of a fine-tuning job request, checked and completed with
their defaults before the job is stored."""

from __future__ import annotations

from typing import Any

from agent_runtime.errors import InvalidArgument

DEFAULT_HYPERPARAMETERS = {
    "n_steps": 100,
    "batch_size": 4,
    "learning_rate": 1e-5,
    "lora_rank": 8,
    "lora_layers": 0,  # 0: every transformer block
    "eval_every": 50,
    "checkpoint_every": 25,
    "max_seq_length": 2048,
    "seed": 0,
    "report_every": 5,
}
HYPERPARAMETER_LIMITS = {
    "n_steps": (1, 1_000_000),
    "batch_size": (1, 4096),
    "lora_rank": (1, 1024),
    "lora_layers": (0, 1024),
    "eval_every": (1, 1_000_000),
    "checkpoint_every": (1, 1_000_000),
    "max_seq_length": (8, 1_000_000),
    "seed": (0, 2**31 - 1),
    "report_every": (1, 1_000_000),
}
SUFFIX_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def check_suffix(suffix: str) -> None:
    if len(suffix) > 64 or not set(suffix) <= SUFFIX_CHARS:
        raise InvalidArgument("suffix must be 1-64 letters, digits and -_.")


def compute_config(config: dict[str, Any]) -> dict[str, Any]:
    """A job's compute_config, checked: one instance, on a device this machine has."""
    result: dict[str, Any] = {}
    for key, value in config.items():
        if key == "instance_count":
            try:
                count = int(value)
            except (TypeError, ValueError):
                raise InvalidArgument("compute_config.instance_count must be a number") from None
            if count != 1:
                raise InvalidArgument("compute_config.instance_count must be 1: jobs run on this server's machine")
            result[key] = 1
        elif key == "device":
            if value not in ("cpu", "gpu"):
                raise InvalidArgument("compute_config.device must be 'cpu' or 'gpu'")
            if value == "gpu":
                import mlx.core as mx

                if not mx.is_available(mx.gpu):
                    raise InvalidArgument("compute_config.device 'gpu': MLX has no GPU on this machine; use 'cpu'")
            result[key] = value
        else:
            result[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
    return result

def hyperparameters(given: dict[str, Any]) -> dict[str, Any]:
    """The defaults with the given hyperparameters, each checked against its limits."""
    hp = dict(DEFAULT_HYPERPARAMETERS)
    for key, value in given.items():
        if key not in hp:
            raise InvalidArgument(f"unknown hyperparameter {key!r}; known: {sorted(hp)}")
        if not value:
            continue  # proto zero value: keep the default
        if key == "learning_rate":
            if not (0 < float(value) < 1):
                raise InvalidArgument("hyperparameters.learning_rate must be between 0 and 1")
            hp[key] = float(value)
            continue
        low, high = HYPERPARAMETER_LIMITS[key]
        if int(value) != value or not low <= int(value) <= high:
            raise InvalidArgument(f"hyperparameters.{key} must be an integer from {low} to {high}")
        hp[key] = int(value)
    return hp
