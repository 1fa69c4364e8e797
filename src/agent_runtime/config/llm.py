"""The LLM providers' settings: credentials and endpoints per provider, the
default model, and how long and how often a model call is tried (README,
Configuration)."""

from __future__ import annotations

import dataclasses

from agent_runtime.config.loader import setting


@dataclasses.dataclass(frozen=True)
class LLMSettings:
    """Providers (llm/registry.py) and the limits on one model call."""

    # OpenAI and OpenAI-compatible servers (vLLM, LM Studio, …) via base URL.
    openai_api_key: str | None = setting("OPENAI_API_KEY", None)
    openai_base_url: str | None = setting("OPENAI_BASE_URL", None)
    # Azure OpenAI.
    azure_openai_api_key: str | None = setting("AZURE_OPENAI_API_KEY", None)
    azure_openai_endpoint: str | None = setting("AZURE_OPENAI_ENDPOINT", None)
    azure_openai_api_version: str = setting("OPENAI_API_VERSION", "2024-10-21")
    # Ollama's OpenAI-compatible endpoint, e.g. http://localhost:11434/v1.
    ollama_base_url: str | None = setting("OLLAMA_BASE_URL", None)
    # Anthropic.
    anthropic_api_key: str | None = setting("ANTHROPIC_API_KEY", None)
    anthropic_base_url: str | None = setting("ANTHROPIC_BASE_URL", None)
    # Model used when a task names none; empty: the first configured one.
    default_model: str | None = setting("DEFAULT_MODEL", None)
    # Seconds one LLM request may take, and retries (with backoff) on
    # connection errors, 408, 409, 429 and 5xx.
    timeout_seconds: float = setting("LLM_TIMEOUT_SECONDS", 120.0)
    max_retries: int = setting("LLM_MAX_RETRIES", 3)
    # Seconds one whole model call may take (first byte to last, retries
    # included), however the provider keeps its stream alive.
    total_timeout_seconds: float = setting("LLM_TOTAL_TIMEOUT_SECONDS", 300.0)
    # Seconds a provider's model list (discovery) is cached.
    model_cache_seconds: float = 300.0

    def check(self) -> None:
        if self.timeout_seconds <= 0:
            raise ValueError("LLM_TIMEOUT_SECONDS must be positive")
        if self.max_retries < 0:
            raise ValueError("LLM_MAX_RETRIES must not be negative")
        if self.total_timeout_seconds < self.timeout_seconds:
            raise ValueError("LLM_TOTAL_TIMEOUT_SECONDS must be at least LLM_TIMEOUT_SECONDS (it bounds the whole call, that one each read)")
