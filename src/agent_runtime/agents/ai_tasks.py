"""AI tasks (`POST /ai/tasks`) and the roles that run them (`GET /ai/agents`).

Each `workflow_type` is run by one role: its system prompt says how the model
works, and the request becomes the user message (the prompt, the caller's
extra parameters as requirements, and for `system_analysis` the compute
system's real devices, metrics and window statistics). The model comes from
the agents' `ProviderRegistry` (`parameters.model`, else the default model;
registered local MLX models are the `mlx` provider). One model call, no
tools: the answer is the task's result.

Failures are errors, not failed tasks: the model failing is `LLM_ERROR`
(HTTP 502), a task running past its `timeout` `AI_TASK_TIMEOUT`
(DEADLINE_EXCEEDED, HTTP 504).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from typing import Any, Awaitable, Callable

import structlog

from agent_runtime.errors import DeadlineExceeded, ValidationFailed
from agent_runtime.llm.base import ChatMessage, LLMError, complete, estimate_tokens
from agent_runtime.llm.registry import ProviderRegistry

log = structlog.get_logger(__name__)

DEFAULT_TIMEOUT_SECONDS = 300
DEFAULT_MAX_TOKENS = 1024
# Parameters every workflow reads; a role adds its own (AIRole.parameters).
COMMON_PARAMETERS = ("model", "max_tokens")

# Gathers the compute system's state for `system_analysis`:
# (metric_type, timeframe) -> devices, current metrics, window statistics.
SystemFactsSource = Callable[[str, str], Awaitable[dict[str, Any]]]


@dataclasses.dataclass(frozen=True)
class AIRole:
    role: str
    name: str
    description: str
    # The POST /ai/tasks workflow_type this role runs.
    workflow_type: str
    capabilities: tuple[str, ...]
    # None: the prompt goes to the model as it is (model_inference).
    system_prompt: str | None
    # Parameters the workflow reads besides COMMON_PARAMETERS. Others are
    # requirements for the model (refused where there is no system prompt).
    parameters: tuple[str, ...] = ()


AI_ROLES: tuple[AIRole, ...] = (
    AIRole(
        "DEVELOPER",
        "Code Assistant",
        "Assists with code generation and refactoring",
        "code_generation",
        ("code_generation", "refactoring", "debugging"),
        "You are Code Assistant, a senior software developer. Write the code the user asks for: complete, "
        "correct and idiomatic, in the requested language and style, with the edge cases handled. Answer with "
        "the code first (no preamble), then at most three short lines on how to use it. Do not invent APIs.",
    ),
    AIRole(
        "ANALYST",
        "System Analyst",
        "Analyzes system performance and provides insights",
        "system_analysis",
        ("performance_analysis", "optimization", "reporting"),
        "You are System Analyst, a performance engineer. You are given the compute system's real state as JSON: "
        "its devices, its current metrics and statistics computed from the stored metrics of a time window. "
        "Answer the user's question from these numbers only: cite the actual figures, name bottlenecks and "
        "risks, and end with numbered concrete recommendations. Never invent data that is not in the JSON.",
        ("metric_type", "timeframe"),
    ),
    AIRole(
        "OPTIMIZER",
        "Performance Optimizer",
        "Optimizes code and configuration for speed and resource use",
        "optimization",
        ("optimization", "performance_tuning", "configuration_tuning"),
        "You are Performance Optimizer. Improve the code or configuration the user gives for speed and resource "
        "use without changing its behaviour. Answer with the optimized version first, then a numbered list of "
        "each change with its expected effect (time or memory complexity, fewer allocations or calls).",
    ),
    AIRole(
        "ML_ENGINEER",
        "Model Runner",
        "Runs a prompt on a chosen model, such as a local MLX model or a fine-tune from the ML registry",
        "model_inference",
        ("model_inference", "local_mlx_models", "remote_models"),
        None,
        ("system",),
    ),
)

ROLES_BY_WORKFLOW = {role.workflow_type: role for role in AI_ROLES}


@dataclasses.dataclass
class AITaskResult:
    task_id: str
    status: str
    result: str
    model_used: str
    tokens_used: int
    execution_time: float


class AITaskService:
    """Runs AI tasks; `processed` counts the completed ones (`/metrics`
    `ai_tasks_processed`)."""

    def __init__(self, registry: ProviderRegistry, system_facts: SystemFactsSource, *, max_output_tokens: int):
        self._registry = registry
        self._system_facts = system_facts
        self._max_output_tokens = max_output_tokens
        self.processed = 0

    @staticmethod
    def roles() -> tuple[AIRole, ...]:
        return AI_ROLES

    async def run(
        self, workflow_type: str, prompt: str, parameters: dict[str, Any], timeout: float | None = None
    ) -> AITaskResult:
        role = ROLES_BY_WORKFLOW.get(workflow_type)
        if role is None:
            raise ValidationFailed(
                f"workflow_type must be one of {', '.join(ROLES_BY_WORKFLOW)}; got {workflow_type!r}",
                code="INVALID_WORKFLOW_TYPE",
                fields={"workflow_type": "unknown"},
            )
        if not prompt.strip():
            raise ValidationFailed("prompt is required", fields={"prompt": "is required"})
        model_name = _string_parameter(parameters, "model")
        max_tokens = self._max_tokens(parameters)
        seconds = DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout
        task_id = f"ai_task_{uuid.uuid4().hex[:12]}"
        started = time.monotonic()
        try:
            async with asyncio.timeout(seconds):
                messages = await self._messages(role, prompt, parameters)
                provider, model = await self._registry.resolve(model_name)
                completion = await complete(provider, model, messages, max_tokens=max_tokens)
        except TimeoutError:
            raise DeadlineExceeded(
                f"AI task {task_id} ({workflow_type}) did not finish within its timeout of {seconds:g} s; "
                "raise `timeout` (at most 3600) or shorten the prompt",
                code="AI_TASK_TIMEOUT",
            ) from None
        model_used = f"{provider.info.id}/{model}"
        if not completion.text.strip():
            raise LLMError(f"{model_used} answered with no text")
        tokens = completion.input_tokens + completion.output_tokens
        if not tokens:
            # The provider reported no usage (local models): estimate.
            tokens = sum(estimate_tokens(m.content) for m in messages) + estimate_tokens(completion.text)
        self.processed += 1
        elapsed = round(time.monotonic() - started, 3)
        log.info("ai_task.completed", task_id=task_id, workflow_type=workflow_type, model=model_used, tokens=tokens, seconds=elapsed)
        return AITaskResult(task_id, "completed", completion.text, model_used, tokens, elapsed)

    def _max_tokens(self, parameters: dict[str, Any]) -> int:
        value = parameters.get("max_tokens", DEFAULT_MAX_TOKENS)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != int(value) or not 1 <= value <= self._max_output_tokens:
            raise ValidationFailed(
                f"parameters.max_tokens must be a whole number from 1 to {self._max_output_tokens}; got {value!r}",
                fields={"parameters.max_tokens": "out of range"},
            )
        return int(value)

    async def _messages(self, role: AIRole, prompt: str, parameters: dict[str, Any]) -> list[ChatMessage]:
        requirements = {k: v for k, v in parameters.items() if k not in (*COMMON_PARAMETERS, *role.parameters)}
        if role.system_prompt is None:
            if requirements:
                known = ", ".join((*COMMON_PARAMETERS, *role.parameters))
                raise ValidationFailed(
                    f"{role.workflow_type} sends the prompt as it is and takes only the parameters {known}; "
                    f"got {', '.join(sorted(requirements))}",
                    fields={f"parameters.{name}": "not used" for name in requirements},
                )
            system = _string_parameter(parameters, "system")
            messages = [ChatMessage("system", system)] if system else []
            return [*messages, ChatMessage("user", prompt)]
        parts = [prompt]
        if requirements:
            parts.append("Requirements (JSON):\n" + json.dumps(requirements, indent=1, sort_keys=True))
        if role.workflow_type == "system_analysis":
            facts = await self._system_facts(
                _string_parameter(parameters, "metric_type") or "performance",
                _string_parameter(parameters, "timeframe") or "1h",
            )
            parts.append("System state (JSON):\n" + json.dumps(facts, indent=1, sort_keys=True))
        return [ChatMessage("system", role.system_prompt), ChatMessage("user", "\n\n".join(parts))]


def _string_parameter(parameters: dict[str, Any], key: str) -> str:
    value = parameters.get(key, "")
    if not isinstance(value, str):
        raise ValidationFailed(f"parameters.{key} must be a string; got {value!r}", fields={f"parameters.{key}": "not a string"})
    return value.strip()
