"""`POST /ai/insights` written by the configured LLM (the scripted
OpenAI-format server) from the real computed statistics, the fallback to the
deterministic analyser when the LLM fails, and the deterministic analyser when
no provider is configured."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import pytest_asyncio

from agent_runtime.config import LLMSettings
from agent_runtime.clock import iso
from agent_runtime.compute.insights import InsightService, LLMInsightAnalyzer
from agent_runtime.llm.registry import ProviderRegistry
from agent_runtime.compute.records import MetricSample
from agent_runtime.storage.sqlite.compute import SqliteMetricSampleRepository, SqliteTaskRepository
from agent_runtime.storage.sqlite.database import Database
from conftest import http_client, make_settings, running
from llm_fakes import FakeOpenAI, Reply

LLM_TEXT = (
    "Based on the last 1h of memory data:\n\n1. Memory peaked at 95% once; otherwise it climbs slowly.\n"
    "2. Recommendation: lower COMPUTE_MAX_CONCURRENCY."
)


def sample(epoch: float, memory: float) -> MetricSample:
    return MetricSample(
        epoch=epoch, sampled_at=iso(dt.datetime.fromtimestamp(epoch, dt.timezone.utc)), cpu_utilization=30.0,
        memory_usage=memory, gpu_utilization=0.0, active_tasks=0, queued_tasks=0, tasks_completed=0, tasks_failed=0,
        tasks_per_minute=2.0, avg_execution_ms=10.0, avg_gflops=50.0, ai_tasks_processed=0,
    )


def sent_statistics(request: dict) -> dict:
    """The statistics JSON in the user message the model got."""
    system, user = request["messages"]
    assert system["role"] == "system" and "Use only the numbers given" in system["content"]
    assert user["role"] == "user"
    return json.loads(user["content"].split("Statistics (JSON):\n", 1)[1])


@pytest_asyncio.fixture
async def fake():
    async with FakeOpenAI() as started:
        yield started


@pytest_asyncio.fixture
async def stored(tmp_path):
    """Samples of the last half hour: the sample and task stores, and now."""
    database = await Database.open(tmp_path / "insights.sqlite3")
    samples = SqliteMetricSampleRepository(database)
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    for index in range(20):
        await samples.insert_sample(sample(now.timestamp() - 1800 + index * 60, 95.0 if index == 12 else 40.0 + index))
    yield samples, SqliteTaskRepository(database), now
    await database.close()


def registry_for(fake) -> ProviderRegistry:
    return ProviderRegistry.from_config(LLMSettings(openai_base_url=fake.base_url, max_retries=0, timeout_seconds=5))


async def test_llm_writes_insights_from_the_computed_statistics(fake, stored):
    samples, tasks, now = stored
    fake.add(Reply(text=LLM_TEXT))
    service = InsightService(samples, tasks, LLMInsightAnalyzer(registry_for(fake), model="gpt-4o"), clock=lambda: now)
    report = await service.generate("memory", "1h")
    assert report.text == LLM_TEXT and report.analyzer == "llm:openai/gpt-4o"
    [request] = fake.requests
    assert request["model"] == "gpt-4o" and "tools" not in request
    facts = sent_statistics(request)
    memory = facts["series"]["memory_usage"]
    # The stored samples' real statistics: 20 samples, 40..59 with one 95 spike.
    assert facts["sample_count"] == 20 and facts["metric_type"] == "memory" and facts["timeframe"] == "1h"
    assert memory["peak"] == 95.0 and memory["minimum"] == 40.0 and memory["last"] == 59.0
    assert memory["anomalies"] and memory["anomalies"][0]["value"] == 95.0
    assert facts["series"] == report.analysis["series"] and facts["averages"] == report.averages
    assert report.sample_count == 20 and "llm_error" not in report.analysis


async def test_llm_failure_falls_back_to_deterministic(fake, stored):
    samples, tasks, now = stored
    fake.add(Reply(status=500, error_body={"error": {"message": "model overloaded", "type": "server_error"}}))
    service = InsightService(samples, tasks, LLMInsightAnalyzer(registry_for(fake)), clock=lambda: now)
    report = await service.generate("memory", "1h")
    assert report.analyzer == "deterministic"
    assert report.text.startswith("Based on the last 1h of memory data (20 samples")
    assert "500" in report.analysis["llm_error"] and report.analysis["series"]["memory_usage"]["peak"] == 95.0
    # An empty answer is a failure too.
    fake.add(Reply(text=""))
    empty = await service.generate("memory", "1h")
    assert empty.analyzer == "deterministic" and "no text" in empty.analysis["llm_error"]


async def test_no_provider_configured_is_deterministic(stored):
    samples, tasks, now = stored
    service = InsightService(samples, tasks, LLMInsightAnalyzer(ProviderRegistry.from_config(LLMSettings())), clock=lambda: now)
    report = await service.generate("memory", "1h")
    assert report.analyzer == "deterministic" and "llm_error" not in report.analysis
    assert "peak 95%" in report.text


async def test_insights_through_envoy_with_the_configured_llm(tmp_path, fake):
    llm = {"openai_base_url": fake.base_url, "max_retries": 0, "timeout_seconds": 5}
    settings = make_settings(tmp_path / "data", llm=llm, compute={"metrics_interval_seconds": 0.2})
    async with running(settings) as runtime, http_client(runtime) as http:
        deadline = time.monotonic() + 5
        while (await runtime.database.fetch_one("SELECT COUNT(*) FROM compute_metric_samples"))[0] < 3:
            assert time.monotonic() < deadline, "no metric samples stored"
            await asyncio.sleep(0.1)
        fake.add(Reply(text="Based on the last 5m of performance data:\n\n1. CPU is mostly idle."))
        response = await http.post("/ai/insights", json={"metric_type": "performance", "timeframe": "5m"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["insights"] == "Based on the last 5m of performance data:\n\n1. CPU is mostly idle."
        assert body["analyzer"] == f"llm:openai/{fake.requests[-1]['model']}"
        assert set(body["metrics"]) == {"gpu_utilization", "memory_usage", "active_tasks", "ai_tasks_processed"}
        facts = sent_statistics(fake.requests[-1])
        assert facts["sample_count"] == body["sample_count"] >= 3
        assert facts["series"]["cpu_utilization"] == body["analysis"]["series"]["cpu_utilization"]
        assert facts["averages"]["memory_usage"] == body["metrics"]["memory_usage"] > 0
        fake.add(Reply(status=500))
        fallback = (await http.post("/ai/insights", json={"metric_type": "memory", "timeframe": "5m"})).json()
        assert fallback["analyzer"] == "deterministic" and fallback["insights"].startswith("Based on the last 5m of memory")
        assert "500" in fallback["analysis"]["llm_error"]
