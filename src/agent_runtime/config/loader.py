"""How a settings section is read from the environment: each field names its
variable next to its default (`setting("GRPC_PORT", 50051)`), and one
loader parses every variable by the field's type."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import types
import typing
from typing import Any, Callable, Iterator, Mapping, TypeVar

Section = TypeVar("Section")

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def setting(env: str, default: Any, *, parse: Callable[[str], Any] | None = None) -> Any:
    """A field read from the variable `env`; `parse` turns its (stripped,
    non-empty) text into the value when the field's type does not say how."""
    return dataclasses.field(default=default, metadata={"env": env, "parse": parse})


def section(kind: type) -> Any:
    """A field holding a nested section, read with its own variables."""
    return dataclasses.field(default_factory=kind)


def env_name(kind: type, field_name: str) -> str:
    """The variable a field is read from, for messages that name it."""
    return next(f.metadata["env"] for f in dataclasses.fields(kind) if f.name == field_name)


def env_names(kind: type) -> Iterator[str]:
    """Every variable `kind` and its nested sections read."""
    hints = typing.get_type_hints(kind)
    for field in dataclasses.fields(kind):
        if dataclasses.is_dataclass(hints[field.name]):
            yield from env_names(hints[field.name])
        elif "env" in field.metadata:
            yield field.metadata["env"]


def load(kind: type[Section], environ: Mapping[str, str] | None = None) -> Section:
    """`kind` with every field whose variable is set read from `environ`
    (default: the process environment); the rest keep their defaults."""
    environ = os.environ if environ is None else environ
    hints = typing.get_type_hints(kind)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(kind):
        field_type = hints[field.name]
        if dataclasses.is_dataclass(field_type):
            values[field.name] = load(field_type, environ)
            continue
        name = field.metadata.get("env")
        if name is None or environ.get(name) is None:
            continue
        raw = environ[name]
        if typing.get_origin(field_type) is tuple:
            # A set but empty list means "none", unlike an unset one.
            values[field.name] = tuple(item.strip() for item in raw.split(",") if item.strip())
        elif raw.strip():
            values[field.name] = _parse(name, raw.strip(), field_type, field.metadata["parse"])
    return kind(**values)


def replace(settings: Section, **changes: Any) -> Section:
    """`settings` with fields changed; a dict for a section field changes
    only the fields it names (`replace(s, server={"grpc_port": 0})`)."""
    values = {}
    for name, value in changes.items():
        current = getattr(settings, name)
        values[name] = replace(current, **value) if isinstance(value, dict) and dataclasses.is_dataclass(current) else value
    return dataclasses.replace(settings, **values)  # type: ignore[type-var]


def _parse(name: str, text: str, field_type: Any, parse: Callable[[str], Any] | None) -> Any:
    if parse is not None:
        return parse(text)
    if typing.get_origin(field_type) in (typing.Union, types.UnionType):
        [field_type] = [arg for arg in typing.get_args(field_type) if arg is not type(None)]
    if field_type is bool:
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise ValueError(f"{name} must be true or false, got {text!r}")
    if field_type is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name} must be an integer, got {text!r}") from None
    if field_type is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {text!r}") from None
    if field_type is pathlib.Path:
        return pathlib.Path(text)
    return text
