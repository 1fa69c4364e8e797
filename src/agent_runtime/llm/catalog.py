"""What we know about well-known models (display name, context window,
vision, tool use). Discovered models not listed here get conservative
defaults."""

from __future__ import annotations

import time
from typing import Awaitable, Callable

import structlog

from agent_runtime.llm.base import ModelInfo

log = structlog.get_logger(__name__)

# id: (name, context_window, supports_vision, supports_function_calling)
KNOWN_MODELS: dict[str, tuple[str, int, bool, bool]] = {
    "gpt-4o": ("GPT-4o", 128_000, True, True),
    "gpt-4o-mini": ("GPT-4o mini", 128_000, True, True),
    "gpt-4-turbo": ("GPT-4 Turbo", 128_000, True, True),
    "gpt-4.1": ("GPT-4.1", 1_047_576, True, True),
    "gpt-4.1-mini": ("GPT-4.1 mini", 1_047_576, True, True),
    "o3-mini": ("o3-mini", 200_000, False, True),
    "claude-3-5-sonnet-20241022": ("Claude 3.5 Sonnet", 200_000, True, True),
    "claude-3-5-haiku-20241022": ("Claude 3.5 Haiku", 200_000, False, True),
    "claude-3-opus-20240229": ("Claude 3 Opus", 200_000, True, True),
    "claude-sonnet-4-20250514": ("Claude Sonnet 4", 200_000, True, True),
    "llama3.1": ("Llama 3.1", 128_000, False, True),
    "qwen2.5-coder": ("Qwen2.5 Coder", 32_768, False, True),
}

# Shown for a configured provider whose server cannot list its models.
DEFAULT_MODELS: dict[str, tuple[str, ...]] = {
    "openai": ("gpt-4o", "gpt-4o-mini", "gpt-4-turbo", "gpt-4.1", "o3-mini"),
    "azure": ("gpt-4o", "gpt-4o-mini"),
    "anthropic": ("claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022", "claude-3-opus-20240229"),
    "ollama": (),
}

DEFAULT_CONTEXT_WINDOW = 8_192
# Seconds a provider gets to list its models (GET /api/models must not hang
# on an unreachable provider); it is not retried.
DISCOVERY_TIMEOUT = 10.0


def model_info(model_id: str, provider: str, display_name: str | None = None) -> ModelInfo:
    known = KNOWN_MODELS.get(model_id)
    if known is None:
        # Ollama tags look like `llama3.1:8b`: match the family.
        known = KNOWN_MODELS.get(model_id.split(":", 1)[0])
    if known is not None:
        name, window, vision, tools = known
        return ModelInfo(model_id, display_name or name, provider, window, vision, tools)
    return ModelInfo(model_id, display_name or model_id, provider, DEFAULT_CONTEXT_WINDOW, False, True)


class ModelDiscovery:
    """A provider's model list from its API, cached for `cache_seconds`.
    When listing fails, the provider's DEFAULT_MODELS stand in and listing
    is retried sooner than after a success."""

    def __init__(self, provider_id: str, discover: Callable[[], Awaitable[list[ModelInfo]]], cache_seconds: float = 300.0):
        self._provider_id = provider_id
        self._discover = discover
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, list[ModelInfo]] | None = None

    async def models(self) -> list[ModelInfo]:
        now = time.monotonic()
        if self._cached and now - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        try:
            models = await self._discover()
            self._cached = (now, models)
        except Exception as error:  # noqa: BLE001 - discovery is best effort
            log.warning("llm.discovery_failed", provider=self._provider_id, error=str(error))
            models = [model_info(i, self._provider_id) for i in DEFAULT_MODELS.get(self._provider_id, ())]
            self._cached = (now - self._cache_seconds + 10.0, models)
        return models
