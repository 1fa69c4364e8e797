"""Checks of local MLX model directories, and what the registry shows about
them. A model directory has `config.json` (with `model_type`), one or more
`*.safetensors` weight files and a tokenizer (`tokenizer.json` or
`tokenizer.model`)."""

from __future__ import annotations

import json
import pathlib
import re

from agent_runtime.errors import InvalidArgument

MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
DEFAULT_PARAMETERS = {"temperature": 0.7, "max_tokens": 512}


def mlx_available() -> bool:
    """True when MLX and mlx-lm import (the `ml_client_available` flag)."""
    try:
        import mlx.core  # noqa: F401
        import mlx_lm  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means unavailable
        return False
    return True


def check_model_id(model_id: str) -> str:
    if not MODEL_ID.match(model_id):
        raise InvalidArgument(
            f"model id {model_id!r} is not valid: use 1-128 letters, digits and ._:@- starting with a letter or digit"
        )
    return model_id


def inspect_model_dir(path: pathlib.Path) -> dict:
    """Returns the model's config.json; raises InvalidArgument saying what
    is missing when `path` is not an MLX model directory."""
    if not path.is_absolute():
        raise InvalidArgument(f"model path {str(path)!r} must be absolute")
    if not path.is_dir():
        raise InvalidArgument(f"model path {str(path)!r} is not a directory on the server")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise InvalidArgument(f"model directory {str(path)!r} has no config.json")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as error:
        raise InvalidArgument(f"config.json of {str(path)!r} cannot be read: {error}") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
        raise InvalidArgument(f"config.json of {str(path)!r} has no model_type")
    if not any(path.glob("*.safetensors")):
        raise InvalidArgument(f"model directory {str(path)!r} has no *.safetensors weights")
    if not ((path / "tokenizer.json").is_file() or (path / "tokenizer.model").is_file()):
        raise InvalidArgument(f"model directory {str(path)!r} has no tokenizer (tokenizer.json or tokenizer.model)")
    return config


def default_parameters(config: dict) -> dict[str, float]:
    parameters: dict[str, float] = dict(DEFAULT_PARAMETERS)
    for key, name in (("max_position_embeddings", "context_length"), ("num_hidden_layers", "num_layers"),
                      ("hidden_size", "hidden_size"), ("vocab_size", "vocab_size")):
        if isinstance(config.get(key), (int, float)):
            parameters[name] = config[key]
    return parameters


def discover(models_dir: pathlib.Path) -> list[tuple[str, pathlib.Path, dict]]:
    """(id, path, config) of every loadable model directory directly under
    `models_dir`; directories that are not models are skipped."""
    found = []
    if not models_dir.is_dir():
        return found
    for child in sorted(models_dir.iterdir()):
        if not child.is_dir() or not MODEL_ID.match(child.name):
            continue
        try:
            config = inspect_model_dir(child.resolve())
        except InvalidArgument:
            continue
        found.append((child.name, child.resolve(), config))
    return found
