"""The agents' settings: run limits, tools, approvals, multi-agent sessions
and how commands are contained (README, Configuration). The LLM providers'
settings are their own section (config/llm.py)."""

from __future__ import annotations

import dataclasses
import os
import signal
from typing import Mapping

from agent_runtime.config.loader import env_name, load, section, setting

DEFAULT_DANGEROUS_TOOLS = ("write_file", "delete_file", "execute_command")
SANDBOX_MODES = ("auto", "bubblewrap", "sandbox-exec", "none")
NETWORK_MODES = ("none", "all")
MB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class SandboxSettings:
    """How agent commands are contained (tools/containment.py)."""

    # auto: bubblewrap on Linux, sandbox-exec on macOS; none: uncontained.
    mode: str = setting("SANDBOX", "auto", parse=str.lower)
    # none: no network in commands; all: the host's network for every run.
    network: str = setting("SANDBOX_NETWORK", "none", parse=str.lower)
    # Sessions whose commands get the network although `network` is none.
    network_sessions: tuple[str, ...] = setting("SANDBOX_NETWORK_SESSIONS", ())
    # The bubblewrap binary (looked up on PATH when not a path).
    bwrap: str = setting("SANDBOX_BWRAP", "bwrap")
    # Per-command limits (each process; processes per command).
    cpu_seconds: int = setting("SANDBOX_CPU_SECONDS", 300)
    memory_mb: int = setting("SANDBOX_MEMORY_MB", 4096)
    max_processes: int = setting("SANDBOX_MAX_PROCESSES", 256)
    max_file_mb: int = setting("SANDBOX_MAX_FILE_MB", 1024)
    max_open_files: int = setting("SANDBOX_MAX_OPEN_FILES", 1024)

    def check(self) -> None:
        if self.mode not in SANDBOX_MODES:
            raise ValueError(f"SANDBOX must be one of {', '.join(SANDBOX_MODES)}, got {self.mode!r}")
        if self.network not in NETWORK_MODES:
            raise ValueError(f"SANDBOX_NETWORK must be one of {', '.join(NETWORK_MODES)}, got {self.network!r}")
        for name, low in (("cpu_seconds", 1), ("memory_mb", 64), ("max_processes", 8), ("max_file_mb", 1), ("max_open_files", 32)):
            if getattr(self, name) < low:
                raise ValueError(f"{env_name(SandboxSettings, name)} must be at least {low}, got {getattr(self, name)}")

    def allows_network(self, session_id: str | None) -> bool:
        return self.network == "all" or (session_id is not None and session_id in self.network_sessions)

    def limit_hint(self, exit_code: int | None, output: str) -> str | None:
        """Which limit ended the command, from its exit status (a signal the
        kernel sends at the limit) or the error a refused call prints."""
        if exit_code in (128 + signal.SIGXCPU, -signal.SIGXCPU):
            return f"the command used up its CPU time limit (SANDBOX_CPU_SECONDS={self.cpu_seconds}) and was killed"
        if exit_code in (128 + signal.SIGXFSZ, -signal.SIGXFSZ):
            return f"the command wrote past the file size limit (SANDBOX_MAX_FILE_MB={self.max_file_mb}) and was killed"
        if not exit_code:
            return None
        text = output.lower()
        if any(sign in text for sign in ("cannot allocate memory", "memoryerror", "out of memory", "bad_alloc")):
            return f"memory was refused at the address-space limit (SANDBOX_MEMORY_MB={self.memory_mb})"
        if any(sign in text for sign in ("cannot fork", "fork: retry", "resource temporarily unavailable")):
            return f"new processes were refused at the process limit (SANDBOX_MAX_PROCESSES={self.max_processes})"
        if "too many open files" in text:
            return f"files were refused at the open-files limit (SANDBOX_MAX_OPEN_FILES={self.max_open_files})"
        return None

    def prlimit_argv(self) -> list[str]:
        return [
            "prlimit",
            # SIGXCPU at the soft limit (a clear exit status); SIGKILL only
            # for a process that ignores it.
            f"--cpu={self.cpu_seconds}:{self.cpu_seconds + 5}",
            f"--as={self.memory_mb * MB}",
            f"--nproc={self.max_processes}",
            f"--fsize={self.max_file_mb * MB}",
            f"--nofile={self.max_open_files}",
            "--",
        ]


@dataclasses.dataclass(frozen=True)
class AgentsConfig:
    """Run limits, tool limits and approvals."""

    # Run loop limits.
    max_iterations: int = setting("MAX_ITERATIONS", 50)
    max_context_tokens: int = setting("MAX_CONTEXT_TOKENS", 100_000)
    max_context_messages: int = setting("MAX_CONTEXT_MESSAGES", 100)
    max_output_tokens: int = 4096
    # Tools.
    command_timeout_seconds: float = setting("COMMAND_TIMEOUT_SECONDS", 60.0)
    tool_output_limit: int = setting("TOOL_OUTPUT_LIMIT", 64 * 1024)
    max_file_bytes: int = 2 * 1024 * 1024
    # Approvals: tools that wait for a decision (set but empty: none), and
    # how long one may wait (0: no expiry). HITL_ENABLED=false (codelab)
    # means none, whatever the list says.
    hitl_dangerous_tools: tuple[str, ...] = setting("HITL_DANGEROUS_TOOLS", DEFAULT_DANGEROUS_TOOLS)
    hitl_enabled: bool = setting("HITL_ENABLED", True)
    approval_timeout_seconds: float = setting("APPROVAL_TIMEOUT_SECONDS", 0.0)
    # Runs executing at once; more wait `queued`. A run waiting for an
    # approval gives its slot up until the decision.
    max_concurrent_runs: int = setting("MAX_CONCURRENT_RUNS", 8)
    # Of those, runs of one user at once (None: half of max_concurrent_runs,
    # rounded up), so one user's runs never take every slot.
    max_concurrent_runs_per_user: int | None = setting("MAX_CONCURRENT_RUNS_PER_USER", None)
    # A run that makes no progress for this long fails (0: never).
    watchdog_seconds: float = setting("RUN_WATCHDOG_SECONDS", 600.0)
    # A run's lease: renewed every third of it while its process works; a
    # process that dies leaves its runs to others after this long.
    run_lease_seconds: float = setting("RUN_LEASE_SECONDS", 30.0)
    # Project directories must lie under one of these (empty: anywhere).
    project_roots: tuple[str, ...] = setting("PROJECT_ROOTS", ())
    # Where tasks without a session (devin `/api/tasks/`, ExecuteTask) work;
    # empty: a fresh directory per task under the data dir.
    default_workspace: str | None = setting("DEFAULT_WORKSPACE", None)
    # Multi-agent sessions (codelab): switching on/off, the agent a session
    # starts with, whether the orchestrator may switch by itself (its
    # `switch_agent` tool), and the most switches one session may make.
    multi_agent_enabled: bool = setting("AGENT_RUNTIME__MULTI_AGENT_ENABLED", True)
    default_agent: str = setting("AGENT_RUNTIME__DEFAULT_AGENT", "orchestrator")
    auto_agent_switching: bool = setting("AGENT_RUNTIME__AUTO_AGENT_SWITCHING", True)
    max_agent_switches: int = setting("AGENT_RUNTIME__MAX_AGENT_SWITCHES", 10)
    # How commands are contained.
    sandbox: SandboxSettings = section(SandboxSettings)

    def __post_init__(self) -> None:
        if not self.hitl_enabled:
            object.__setattr__(self, "hitl_dangerous_tools", ())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "AgentsConfig":
        """Read from `environ` (default: the process environment)."""
        return load(cls, environ)

    @property
    def runs_per_user(self) -> int:
        """The per-user run cap in effect."""
        if self.max_concurrent_runs_per_user is not None:
            return self.max_concurrent_runs_per_user
        return max(1, (self.max_concurrent_runs + 1) // 2)

    def check(self) -> None:
        """The agent names are the agents domain's: `default_agent` is
        checked against them by agents.catalog.check_default_agent."""
        for name in ("max_iterations", "max_context_tokens", "max_context_messages", "tool_output_limit", "max_concurrent_runs"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name.upper()} must be positive")
        if self.max_concurrent_runs_per_user is not None and not 0 < self.max_concurrent_runs_per_user <= self.max_concurrent_runs:
            raise ValueError("MAX_CONCURRENT_RUNS_PER_USER must be between 1 and MAX_CONCURRENT_RUNS")
        if self.command_timeout_seconds <= 0:
            raise ValueError("COMMAND_TIMEOUT_SECONDS must be positive")
        if self.run_lease_seconds <= 0:
            raise ValueError("RUN_LEASE_SECONDS must be positive")
        for root in self.project_roots:
            if not os.path.isabs(root):
                raise ValueError(f"PROJECT_ROOTS entries must be absolute paths, got {root!r}")
        if self.max_agent_switches < 0:
            raise ValueError("AGENT_RUNTIME__MAX_AGENT_SWITCHES must not be negative")
        self.sandbox.check()
