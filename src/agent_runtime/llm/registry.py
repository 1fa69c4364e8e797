"""All providers, built from LLMSettings, and model resolution: which
provider serves a model id, and the default model."""

from __future__ import annotations

import asyncio

from agent_runtime.config import LLMSettings
from agent_runtime.errors import FailedPrecondition, NotFound
from agent_runtime.llm.anthropic_provider import AnthropicProvider, anthropic_client
from agent_runtime.llm.base import LLMProvider, ModelInfo
from agent_runtime.llm.openai_provider import OpenAICompatibleProvider, azure_client, openai_client

PROVIDER_IDS = ("openai", "anthropic", "ollama", "azure")


class ProviderRegistry:
    def __init__(self, providers: list[LLMProvider], default_model: str | None = None):
        self._providers = {p.info.id: p for p in providers}
        self._default_model = default_model

    @classmethod
    def from_config(cls, config: LLMSettings) -> "ProviderRegistry":
        t, r, cache = config.timeout_seconds, config.max_retries, config.model_cache_seconds
        openai_configured = bool(config.openai_api_key or config.openai_base_url)
        providers: list[LLMProvider] = [
            OpenAICompatibleProvider(
                "openai",
                "OpenAI",
                openai_client(config.openai_api_key, config.openai_base_url, t, r) if openai_configured else None,
                model_cache_seconds=cache,
            ),
            AnthropicProvider(
                anthropic_client(config.anthropic_api_key, config.anthropic_base_url, t, r)
                if config.anthropic_api_key
                else None,
                model_cache_seconds=cache,
            ),
            OpenAICompatibleProvider(
                "ollama",
                "Ollama",
                openai_client(None, config.ollama_base_url, t, r) if config.ollama_base_url else None,
                model_cache_seconds=cache,
            ),
            OpenAICompatibleProvider(
                "azure",
                "Azure OpenAI",
                azure_client(config.azure_openai_api_key, config.azure_openai_endpoint, config.azure_openai_api_version, t, r)
                if config.azure_openai_api_key and config.azure_openai_endpoint
                else None,
                model_cache_seconds=cache,
            ),
        ]
        return cls(providers, config.default_model)

    def add(self, provider: LLMProvider) -> None:
        """Adds or replaces a provider (e.g. local `mlx`)."""
        self._providers[provider.info.id] = provider

    @property
    def providers(self) -> list[LLMProvider]:
        return list(self._providers.values())

    def provider(self, provider_id: str) -> LLMProvider:
        provider = self._providers.get(provider_id)
        if provider is None:
            raise NotFound(
                f"Unknown provider {provider_id!r}; known: {', '.join(self._providers)}", code="PROVIDER_NOT_FOUND"
            )
        return provider

    async def models(self, provider_id: str = "") -> list[ModelInfo]:
        chosen = [self.provider(provider_id)] if provider_id else self.providers
        listings = await asyncio.gather(*(p.list_models() for p in chosen if p.info.configured))
        return [model for listing in listings for model in listing]

    async def reachability(self, timeout_seconds: float) -> dict[str, bool]:
        """Whether each configured provider answers now, probed concurrently,
        each within `timeout_seconds`."""

        async def reachable(provider: LLMProvider) -> bool:
            try:
                await asyncio.wait_for(provider.probe(), timeout_seconds)
            except Exception:  # noqa: BLE001 - any failure, including the timeout, is unreachable
                return False
            return True

        configured = [p for p in self.providers if p.info.configured]
        answers = await asyncio.gather(*(reachable(p) for p in configured))
        return {p.info.id: answer for p, answer in zip(configured, answers)}

    async def default_model(self) -> str:
        if self._default_model:
            return self._default_model
        for provider in self.providers:
            if provider.info.configured:
                models = await provider.list_models()
                if models:
                    return models[0].id
        return ""

    async def resolve(self, model: str) -> tuple[LLMProvider, str]:
        """(provider, model id) for a task's model: `provider/model` names
        the provider; a bare id goes to the provider that lists it, else the
        first configured one. Empty: the default model."""
        if not any(p.info.configured for p in self.providers):
            raise FailedPrecondition(
                "no model provider configured: set OPENAI_API_KEY/OPENAI_BASE_URL, ANTHROPIC_API_KEY, "
                "OLLAMA_BASE_URL or AZURE_OPENAI_API_KEY + AZURE_OPENAI_ENDPOINT",
                code="NO_PROVIDER_CONFIGURED",
            )
        model = model or await self.default_model()
        prefix, _, rest = model.partition("/")
        if rest and prefix in self._providers:
            provider = self._providers[prefix]
            if not provider.info.configured:
                raise FailedPrecondition(f"provider {prefix} is not configured", code="PROVIDER_NOT_CONFIGURED")
            return provider, rest
        configured = [p for p in self.providers if p.info.configured]
        for provider in configured:
            if any(m.id == model for m in await provider.list_models()):
                return provider, model
        if model.startswith("claude"):
            for provider in configured:
                if provider.info.id == "anthropic":
                    return provider, model
        if not model:
            raise FailedPrecondition("no model given and no default model found: set DEFAULT_MODEL", code="NO_MODEL")
        return configured[0], model
