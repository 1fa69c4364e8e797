"""The tool interface: a name, a description, a JSON schema for the
arguments and an async `run`. Tools raise ToolError for failures the model
can act on; the registry turns anything else into a tool error too, so a
tool never crashes a run."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Awaitable, Callable, Protocol

from agent_runtime.tools.containment import Sandbox
from agent_runtime.tools.sandbox import ToolError, Workspace


@dataclasses.dataclass
class ToolOutcome:
    output: str
    success: bool = True
    # Exit code of a command, when the tool ran one.
    exit_code: int | None = None


@dataclasses.dataclass
class ToolContext:
    workspace: Workspace
    command_timeout: float
    output_limit: int
    max_file_bytes: int
    # Contains every process a tool starts (commands, git).
    sandbox: Sandbox
    # Whether this run's commands may use the network (SANDBOX_NETWORK…).
    network: bool = False
    # Saves the plan (update_plan); given by the run loop.
    save_plan: Callable[[list[dict[str, str]]], Awaitable[None]] | None = None
    # Where running commands are recorded (killed after a crash).
    commands_dir: pathlib.Path | None = None


class Tool(Protocol):
    name: str
    description: str
    parameters: dict[str, Any]

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutcome: ...


def cap(text: str, limit: int) -> str:
    """At most `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [output truncated: {len(text) - limit} more characters]"


def require_str(arguments: dict[str, Any], name: str, *, allow_empty: bool = False) -> str:
    value = arguments.get(name)
    if not isinstance(value, str) or (not allow_empty and not value):
        raise ToolError(f"argument {name!r} is required and must be a {'string' if allow_empty else 'non-empty string'}")
    return value


def optional_int(arguments: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = arguments.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolError(f"argument {name!r} must be an integer")
    if not low <= value <= high:
        raise ToolError(f"argument {name!r} must be between {low} and {high}")
    return value
