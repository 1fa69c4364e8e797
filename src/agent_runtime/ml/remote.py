"""The remote LLM providers' models as entries of the ML model registry, so
that `GET /ml-api/models/` lists every model the runtime can use."""

from __future__ import annotations

from agent_runtime.clock import Clock, iso, utc_now
from agent_runtime.llm.mlx_provider import PROVIDER_ID as MLX_PROVIDER
from agent_runtime.llm.registry import ProviderRegistry
from agent_runtime.ml.models import REMOTE, ModelRecord

# Sampling defaults shown for remote models; requests may override them.
REMOTE_TEMPERATURE = 0.7
REMOTE_MAX_TOKENS = 4096


async def remote_models(llm: ProviderRegistry, clock: Clock = utc_now) -> list[ModelRecord]:
    """Models of the configured remote providers, with ids
    `<provider>/<model>`. The `mlx` provider is skipped: its models are the
    local entries already (and it lists them from this registry)."""
    now = iso(clock())
    return [
        ModelRecord(
            id=f"{model.provider}/{model.id}",
            name=model.name,
            version=REMOTE,
            description=f"{model.name} served by the {model.provider} provider",
            parameters={
                "temperature": REMOTE_TEMPERATURE,
                "max_tokens": float(REMOTE_MAX_TOKENS),
                "context_window": float(model.context_window),
            },
            kind=REMOTE,
            path="",
            adapter_path=None,
            base_model_id=None,
            created_at=now,
            updated_at=now,
        )
        for provider in llm.providers
        if provider.info.configured and provider.info.id != MLX_PROVIDER
        for model in await provider.list_models()
    ]
