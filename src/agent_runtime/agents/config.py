"""Agent and LLM provider settings, from environment variables (README,
Configuration). Kept apart from config.py so the agent layer owns its knobs;
`Settings.agents` holds one of these."""

from __future__ import annotations

import dataclasses
import os

from agent_runtime.tools.containment import SandboxSettings

DEFAULT_DANGEROUS_TOOLS = ("write_file", "delete_file", "execute_command")


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else None


def _env_number(name: str, default, kind=int):
    value = _env(name)
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def _sandbox_from_env() -> SandboxSettings:
    sessions = _env("SANDBOX_NETWORK_SESSIONS") or ""
    return SandboxSettings(
        mode=(_env("SANDBOX") or SandboxSettings.mode).lower(),
        network=(_env("SANDBOX_NETWORK") or SandboxSettings.network).lower(),
        network_sessions=tuple(s.strip() for s in sessions.split(",") if s.strip()),
        bwrap=_env("SANDBOX_BWRAP") or SandboxSettings.bwrap,
        cpu_seconds=_env_number("SANDBOX_CPU_SECONDS", SandboxSettings.cpu_seconds),
        memory_mb=_env_number("SANDBOX_MEMORY_MB", SandboxSettings.memory_mb),
        max_processes=_env_number("SANDBOX_MAX_PROCESSES", SandboxSettings.max_processes),
        max_file_mb=_env_number("SANDBOX_MAX_FILE_MB", SandboxSettings.max_file_mb),
        max_open_files=_env_number("SANDBOX_MAX_OPEN_FILES", SandboxSettings.max_open_files),
    )


@dataclasses.dataclass(frozen=True)
class AgentsConfig:
    """LLM providers, run limits, tool limits and approvals."""

    # OpenAI and OpenAI-compatible servers (vLLM, LM Studio, …) via base URL.
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    # Azure OpenAI.
    azure_openai_api_key: str | None = None
    azure_openai_endpoint: str | None = None
    azure_openai_api_version: str = "2024-10-21"
    # Ollama's OpenAI-compatible endpoint, e.g. http://localhost:11434/v1.
    ollama_base_url: str | None = None
    # Anthropic.
    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
    # Model used when a task names none; empty: the first configured one.
    default_model: str | None = None
    # Seconds one LLM request may take, and retries (with backoff) on
    # connection errors, 408, 409, 429 and 5xx.
    llm_timeout_seconds: float = 120.0
    llm_max_retries: int = 3
    # Seconds one whole model call may take (first byte to last, retries
    # included), however the provider keeps its stream alive.
    llm_total_timeout_seconds: float = 300.0
    # Seconds a provider's model list (discovery) is cached.
    model_cache_seconds: float = 300.0
    # Run loop limits.
    max_iterations: int = 50
    max_context_tokens: int = 100_000
    max_context_messages: int = 100
    max_output_tokens: int = 4096
    # Tools.
    command_timeout_seconds: float = 60.0
    tool_output_limit: int = 64 * 1024
    max_file_bytes: int = 2 * 1024 * 1024
    # Approvals: tools that wait for a decision, and how long one may wait
    # (0: no expiry).
    hitl_dangerous_tools: tuple[str, ...] = DEFAULT_DANGEROUS_TOOLS
    approval_timeout_seconds: float = 0.0
    # Runs executing at once; more wait `queued`. A run waiting for an
    # approval gives its slot up until the decision.
    max_concurrent_runs: int = 8
    # Of those, runs of one user at once (None: half of max_concurrent_runs,
    # rounded up), so one user's runs never take every slot.
    max_concurrent_runs_per_user: int | None = None
    # A run that makes no progress for this long fails (0: never).
    watchdog_seconds: float = 600.0
    # Project directories must lie under one of these (empty: anywhere).
    project_roots: tuple[str, ...] = ()
    # Where tasks without a session (devin `/api/tasks/`, ExecuteTask) work;
    # empty: a fresh directory per task under the data dir.
    default_workspace: str | None = None
    # Multi-agent sessions (codelab): switching on/off, the agent a session
    # starts with, whether the orchestrator may switch by itself (its
    # `switch_agent` tool), and the most switches one session may make.
    multi_agent_enabled: bool = True
    default_agent: str = "orchestrator"
    auto_agent_switching: bool = True
    max_agent_switches: int = 10
    # How commands are contained (tools/containment.py).
    sandbox: SandboxSettings = dataclasses.field(default_factory=SandboxSettings)

    @classmethod
    def from_env(cls) -> "AgentsConfig":
        # Set but empty means "no tool needs approval"; so does
        # HITL_ENABLED=false (codelab), whatever the list says.
        tools = os.environ.get("HITL_DANGEROUS_TOOLS")
        if not _env_bool("HITL_ENABLED", True):
            tools = ""
        roots = _env("PROJECT_ROOTS")
        return cls(
            openai_api_key=_env("OPENAI_API_KEY"),
            openai_base_url=_env("OPENAI_BASE_URL"),
            azure_openai_api_key=_env("AZURE_OPENAI_API_KEY"),
            azure_openai_endpoint=_env("AZURE_OPENAI_ENDPOINT"),
            azure_openai_api_version=_env("OPENAI_API_VERSION") or cls.azure_openai_api_version,
            ollama_base_url=_env("OLLAMA_BASE_URL"),
            anthropic_api_key=_env("ANTHROPIC_API_KEY"),
            anthropic_base_url=_env("ANTHROPIC_BASE_URL"),
            default_model=_env("DEFAULT_MODEL"),
            llm_timeout_seconds=_env_number("LLM_TIMEOUT_SECONDS", cls.llm_timeout_seconds, float),
            llm_max_retries=_env_number("LLM_MAX_RETRIES", cls.llm_max_retries),
            llm_total_timeout_seconds=_env_number("LLM_TOTAL_TIMEOUT_SECONDS", cls.llm_total_timeout_seconds, float),
            max_iterations=_env_number("MAX_ITERATIONS", cls.max_iterations),
            max_context_tokens=_env_number("MAX_CONTEXT_TOKENS", cls.max_context_tokens),
            max_context_messages=_env_number("MAX_CONTEXT_MESSAGES", cls.max_context_messages),
            command_timeout_seconds=_env_number("COMMAND_TIMEOUT_SECONDS", cls.command_timeout_seconds, float),
            tool_output_limit=_env_number("TOOL_OUTPUT_LIMIT", cls.tool_output_limit),
            hitl_dangerous_tools=tuple(t.strip() for t in tools.split(",") if t.strip())
            if tools is not None
            else DEFAULT_DANGEROUS_TOOLS,
            approval_timeout_seconds=_env_number("APPROVAL_TIMEOUT_SECONDS", 0.0, float),
            watchdog_seconds=_env_number("RUN_WATCHDOG_SECONDS", cls.watchdog_seconds, float),
            max_concurrent_runs=_env_number("MAX_CONCURRENT_RUNS", cls.max_concurrent_runs),
            max_concurrent_runs_per_user=_env_number("MAX_CONCURRENT_RUNS_PER_USER", None),
            project_roots=tuple(r.strip() for r in roots.split(",") if r.strip()) if roots else (),
            default_workspace=_env("DEFAULT_WORKSPACE"),
            multi_agent_enabled=_env_bool("AGENT_RUNTIME__MULTI_AGENT_ENABLED", cls.multi_agent_enabled),
            default_agent=_env("AGENT_RUNTIME__DEFAULT_AGENT") or cls.default_agent,
            auto_agent_switching=_env_bool("AGENT_RUNTIME__AUTO_AGENT_SWITCHING", cls.auto_agent_switching),
            max_agent_switches=_env_number("AGENT_RUNTIME__MAX_AGENT_SWITCHES", cls.max_agent_switches),
            sandbox=_sandbox_from_env(),
        )

    @property
    def runs_per_user(self) -> int:
        """The per-user run cap in effect."""
        if self.max_concurrent_runs_per_user is not None:
            return self.max_concurrent_runs_per_user
        return max(1, (self.max_concurrent_runs + 1) // 2)

    def check(self) -> None:
        for name in ("max_iterations", "max_context_tokens", "max_context_messages", "tool_output_limit", "max_concurrent_runs"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name.upper()} must be positive")
        if self.max_concurrent_runs_per_user is not None and not 0 < self.max_concurrent_runs_per_user <= self.max_concurrent_runs:
            raise ValueError("MAX_CONCURRENT_RUNS_PER_USER must be between 1 and MAX_CONCURRENT_RUNS")
        if self.llm_timeout_seconds <= 0 or self.command_timeout_seconds <= 0:
            raise ValueError("LLM_TIMEOUT_SECONDS and COMMAND_TIMEOUT_SECONDS must be positive")
        if self.llm_max_retries < 0:
            raise ValueError("LLM_MAX_RETRIES must not be negative")
        if self.llm_total_timeout_seconds < self.llm_timeout_seconds:
            raise ValueError("LLM_TOTAL_TIMEOUT_SECONDS must be at least LLM_TIMEOUT_SECONDS (it bounds the whole call, that one each read)")
        from agent_runtime.agents.catalog import AGENT_TYPES_BY_NAME

        if self.default_agent not in AGENT_TYPES_BY_NAME:
            raise ValueError(f"AGENT_RUNTIME__DEFAULT_AGENT must be one of {', '.join(AGENT_TYPES_BY_NAME)}, got {self.default_agent!r}")
        if self.max_agent_switches < 0:
            raise ValueError("AGENT_RUNTIME__MAX_AGENT_SWITCHES must not be negative")
        self.sandbox.check()
