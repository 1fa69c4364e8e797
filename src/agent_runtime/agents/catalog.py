"""The five agent types of the codelab document, with their documented names,
emoji, descriptions, tool sets and restrictions."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class AgentType:
    type: str
    name: str
    description: str
    emoji: str
    tools: tuple[str, ...]
    restrictions: tuple[str, ...]


AGENT_TYPES: tuple[AgentType, ...] = (
    AgentType(
        "orchestrator",
        "Orchestrator Agent",
        "Координатор и маршрутизатор задач",
        "🎭",
        ("read_file", "list_files", "search_in_code"),
        ("Только анализ, без модификации",),
    ),
    AgentType(
        "coder",
        "Coder Agent",
        "Разработчик кода",
        "💻",
        ("read_file", "write_file", "list_files", "search_in_code", "execute_command", "git_diff", "git_commit", "delete_file"),
        (),
    ),
    AgentType(
        "architect",
        "Architect Agent",
        "Проектировщик архитектуры",
        "🏗️",
        ("read_file", "write_file", "list_files", "search_in_code"),
        ("Только .md файлы",),
    ),
    AgentType(
        "debug",
        "Debug Agent",
        "Отладчик и диагност",
        "🐛",
        ("read_file", "list_files", "search_in_code", "execute_command"),
        ("Read-only, без write_file",),
    ),
    AgentType(
        "ask",
        "Ask Agent",
        "Консультант и учитель",
        "💬",
        ("read_file", "search_in_code", "list_files"),
        ("Только чтение",),
    ),
)

AGENT_TYPES_BY_NAME = {agent.type: agent for agent in AGENT_TYPES}


def check_default_agent(name: str) -> None:
    """AGENT_RUNTIME__DEFAULT_AGENT names one of the agents (checked with the
    settings at start: the settings do not know the agents)."""
    if name not in AGENT_TYPES_BY_NAME:
        raise ValueError(f"AGENT_RUNTIME__DEFAULT_AGENT must be one of {', '.join(AGENT_TYPES_BY_NAME)}, got {name!r}")
