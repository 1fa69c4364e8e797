"""Runs a tool call by name; every failure becomes a ToolOutcome with
success=false, never an exception out of the run loop."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from agent_runtime.llm.base import ToolSpec
from agent_runtime.tools.base import Tool, ToolContext, ToolOutcome
from agent_runtime.tools.builtin import BUILTIN_TOOLS
from agent_runtime.tools.sandbox import ToolError

log = structlog.get_logger(__name__)


def tool_specs(names: list[str], tools: dict[str, Tool] = BUILTIN_TOOLS) -> list[ToolSpec]:
    return [ToolSpec(tools[n].name, tools[n].description, tools[n].parameters) for n in names if n in tools]


async def run_tool(name: str, arguments: dict[str, Any], context: ToolContext, allowed: list[str] | None = None) -> ToolOutcome:
    tool = BUILTIN_TOOLS.get(name)
    if tool is None or (allowed is not None and name not in allowed):
        names = ", ".join(allowed if allowed is not None else BUILTIN_TOOLS)
        return ToolOutcome(f"Error: unknown tool {name!r}; available tools: {names}", success=False)
    try:
        return await tool.run(arguments, context)
    except ToolError as error:
        return ToolOutcome(f"Error: {error}", success=False)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # noqa: BLE001 - a tool bug must not crash the run
        log.exception("tool.failed", tool=name)
        return ToolOutcome(f"Error: {name} failed: {type(error).__name__}: {error}", success=False)
