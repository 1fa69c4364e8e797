"""`GET /health` dependencies: the database and the LLM providers' real
reachability, bounded and cached so that /health stays open, fast and cheap
even when a provider hangs; plus the multi-agent settings."""

from __future__ import annotations

import asyncio
import time

import pytest

from agentruntime.v1 import compute_pb2, compute_pb2_grpc
from agent_runtime.config import LLMSettings
from agent_runtime.llm.registry import ProviderRegistry
from agent_runtime.health import llm_states
from agent_helpers import wait_for
from conftest import http_client, make_settings, running, running_without_envoy
from llm_fakes import FakeAnthropic, FakeOpenAI
from ports import free_port

MULTI_AGENT = {"enabled": True, "default_agent": "orchestrator", "agents_count": 5}


def provider_settings(tmp_path, base_url: str, *, timeout: float, cache: float):
    llm = {"openai_base_url": base_url, "max_retries": 0}
    return make_settings(tmp_path / "data", llm=llm, health={"check_timeout_seconds": timeout, "cache_seconds": cache})


async def timed_health(http) -> tuple[float, dict]:
    started = time.monotonic()
    response = await http.get("/health")
    assert response.status_code == 200, response.text
    return time.monotonic() - started, response.json()


@pytest.mark.slow
async def test_a_hanging_provider_is_unavailable_and_health_stays_fast(tmp_path):
    async with FakeOpenAI(models_delay=60) as hanging:
        settings = provider_settings(tmp_path, hanging.base_url, timeout=0.5, cache=1.0)
        # No credentials: /health is open.
        async with running(settings) as runtime, http_client(runtime, api_key=None) as http:
            # Bounded by the probe's 0.5 s, far from the provider's 60 s
            # hang (the margin is a loaded machine's).
            for _ in range(5):
                seconds, body = await timed_health(http)
                assert seconds < 5, f"/health took {seconds:.2f}s"
            assert body["status"] == "degraded"
            assert body["dependencies"] == {"database": "connected", "llm_proxy": "unavailable", "llm.openai": "unavailable", "sandbox": "bubblewrap"}
            assert body["multi_agent"] == MULTI_AGENT
            # Past the cache the last answer is served while a new probe runs
            # in the background: still fast, and the provider is asked again.
            listings = hanging.model_listings
            await asyncio.sleep(1.2)
            seconds, body = await timed_health(http)
            assert seconds < 5 and body["dependencies"]["llm_proxy"] == "unavailable"
            deadline = time.monotonic() + 5
            while hanging.model_listings == listings:
                assert time.monotonic() < deadline, "the expired answer was not refreshed"
                await asyncio.sleep(0.05)


async def test_provider_reachability_follows_the_provider(tmp_path):
    """On the bare gRPC server (GetHealth, open like `/health`): the rule,
    not Envoy's rendering, which the test above shows."""
    fake = FakeOpenAI()
    await fake.__aenter__()
    settings = provider_settings(tmp_path, fake.base_url, timeout=5.0, cache=0.3)
    async with running_without_envoy(settings) as (_, channel):
        stub = compute_pb2_grpc.ComputeServiceStub(channel)

        async def health() -> compute_pb2.GetHealthResponse:
            return await stub.GetHealth(compute_pb2.GetHealthRequest())

        answer = await health()
        assert answer.status == "healthy"
        assert dict(answer.dependencies) == {"database": "connected", "llm_proxy": "available", "llm.openai": "available", "sandbox": "bubblewrap"}
        assert fake.model_listings >= 1
        await fake.__aexit__(None, None, None)  # the provider goes away
        answer = await wait_for(health, lambda a: a.dependencies["llm_proxy"] == "unavailable")
        assert answer.status == "degraded" and answer.dependencies["llm.openai"] == "unavailable"


async def test_reachability_of_each_configured_provider():
    async with FakeOpenAI() as openai_up, FakeAnthropic(models_delay=30) as anthropic_hangs:
        config = LLMSettings(
            openai_base_url=openai_up.base_url,
            anthropic_api_key="k",
            anthropic_base_url=anthropic_hangs.base_url,
            ollama_base_url=f"http://127.0.0.1:{free_port()}/v1",  # nothing listens
            max_retries=0,
        )
        registry = ProviderRegistry.from_config(config)
        started = time.monotonic()
        # Time enough for a provider that is up to answer on a loaded
        # machine; the probes end at it, not after the hanging one's 30 s.
        reachable = await registry.reachability(3)
        assert time.monotonic() - started < 15
    assert reachable == {"openai": True, "anthropic": False, "ollama": False}
    assert llm_states(reachable) == {
        "llm_proxy": "available", "llm.openai": "available", "llm.anthropic": "unavailable", "llm.ollama": "unavailable",
    }
    assert llm_states(await ProviderRegistry.from_config(LLMSettings()).reachability(0.5)) == {"llm_proxy": "not_configured"}
