"""Insights over the stored metrics series (`POST /ai/insights`).

`InsightService` gathers the samples and the tasks finished in the window and
hands them to an `InsightAnalyzer`. `DeterministicAnalyzer` computes
averages, peaks, least-squares trends and robust-z anomalies and turns them
into numbered findings and advice. `LLMInsightAnalyzer` sends those computed
statistics to the configured LLM (the agents' `ProviderRegistry`, default
model) and returns its text as the insights; it falls back to the
deterministic text when no provider is configured or the call fails. The
response's `analyzer` says which one wrote the text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import statistics
from collections import Counter
from typing import Any, Protocol

import structlog

from agent_runtime.clock import Clock, iso, utc_now
from agent_runtime.compute.ports import MetricSampleRepository, TaskRepository
from agent_runtime.compute.records import MetricSample, TaskRecord
from agent_runtime.compute.series import window
from agent_runtime.errors import DomainError, ValidationFailed
from agent_runtime.llm.base import ChatMessage, complete

# Series each metric type looks at: (sample field, label, unit).
SERIES = {
    "performance": [
        ("cpu_utilization", "CPU utilisation", "%"),
        ("gpu_utilization", "GPU utilisation", "%"),
        ("avg_execution_ms", "task execution time", " ms"),
        ("tasks_per_minute", "task throughput", " tasks/min"),
        ("queued_tasks", "queued tasks", ""),
    ],
    "memory": [("memory_usage", "memory usage", "%")],
    "efficiency": [
        ("avg_gflops", "achieved GFLOP/s", " GFLOP/s"),
        ("cpu_utilization", "CPU utilisation", "%"),
        ("tasks_per_minute", "task throughput", " tasks/min"),
    ],
    "errors": [("tasks_failed", "failed tasks (cumulative)", "")],
}

ANOMALY_Z = 3.5

log = structlog.get_logger(__name__)


@dataclasses.dataclass
class InsightData:
    metric_type: str
    timeframe: str
    start: dt.datetime
    end: dt.datetime
    samples: list[MetricSample]
    tasks: list[TaskRecord]


@dataclasses.dataclass
class InsightReport:
    text: str
    analysis: dict[str, Any]
    averages: dict[str, float]
    analyzer: str
    sample_count: int


class InsightAnalyzer(Protocol):
    name: str

    async def analyze(self, data: InsightData) -> InsightReport: ...


@dataclasses.dataclass
class SeriesStats:
    label: str
    unit: str
    average: float
    minimum: float
    peak: float
    peak_at: str
    last: float
    slope_per_hour: float
    anomalies: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def series_stats(samples: list[MetricSample], field: str, label: str, unit: str) -> SeriesStats | None:
    if not samples:
        return None
    values = [float(getattr(s, field)) for s in samples]
    epochs = [s.epoch for s in samples]
    peak_index = max(range(len(values)), key=values.__getitem__)
    slope = 0.0
    if len(values) >= 2:
        mean_t, mean_v = statistics.fmean(epochs), statistics.fmean(values)
        spread = sum((t - mean_t) ** 2 for t in epochs)
        if spread > 0:
            slope = sum((t - mean_t) * (v - mean_v) for t, v in zip(epochs, values)) / spread * 3600
    anomalies = []
    if len(values) >= 5:
        median = statistics.median(values)
        mad = statistics.median(abs(v - median) for v in values)
        if mad > 0:
            scores = [0.6745 * (v - median) / mad for v in values]
        else:
            spread_sd = statistics.pstdev(values)
            scores = [(v - median) / spread_sd if spread_sd > 0 else 0.0 for v in values]
        for sample, value, score in zip(samples, values, scores):
            if abs(score) > ANOMALY_Z:
                anomalies.append({"at": sample.sampled_at, "value": round(value, 3), "score": round(score, 1)})
    return SeriesStats(
        label=label,
        unit=unit,
        average=round(statistics.fmean(values), 3),
        minimum=round(min(values), 3),
        peak=round(values[peak_index], 3),
        peak_at=samples[peak_index].sampled_at,
        last=round(values[-1], 3),
        slope_per_hour=round(slope, 3),
        anomalies=anomalies[:10],
    )


def _clock_time(stamp: str) -> str:
    return stamp[11:19] if len(stamp) >= 19 else stamp


class DeterministicAnalyzer:
    """Findings computed from the numbers alone."""

    name = "deterministic"

    async def analyze(self, data: InsightData) -> InsightReport:
        samples, tasks = data.samples, data.tasks
        analysis: dict[str, Any] = {
            "window": {"start": iso(data.start), "end": iso(data.end), "timeframe": data.timeframe},
            "series": {},
        }
        findings: list[str] = []
        advice: list[str] = []
        for field, label, unit in SERIES[data.metric_type]:
            stats = series_stats(samples, field, label, unit)
            if stats is None:
                continue
            analysis["series"][field] = stats.as_dict()
            trend = _trend_words(stats, samples[-1].epoch - samples[0].epoch)
            findings.append(
                f"{label[0].upper() + label[1:]} averaged {stats.average:g}{unit} (min {stats.minimum:g}{unit}, "
                f"peak {stats.peak:g}{unit} at {_clock_time(stats.peak_at)} UTC){trend}."
            )
            for anomaly in stats.anomalies[:3]:
                findings.append(
                    f"Anomaly: {label} was {anomaly['value']:g}{unit} at {_clock_time(anomaly['at'])} UTC "
                    f"(robust z-score {anomaly['score']:g}, typical {statistics.median(getattr(s, field) for s in samples):g}{unit})."
                )
        task_summary = _task_summary(tasks)
        analysis["tasks"] = task_summary
        if task_summary["count"]:
            findings.append(
                f"{task_summary['count']} compute tasks finished in the window: {task_summary['completed']} completed, "
                f"{task_summary['failed']} failed/cancelled/timed out; average execution "
                f"{task_summary['avg_execution_ms']:g} ms, average queue wait {task_summary['avg_queue_ms']:g} ms."
            )
        advice.extend(_advice(data.metric_type, analysis["series"], task_summary))
        if not samples:
            advice.append(
                "No metric samples were stored in this window (the server samples every COMPUTE_METRICS_INTERVAL "
                "seconds once it runs): choose a longer timeframe or wait for samples to accumulate."
            )
        lines = findings + advice
        if not lines:
            lines = ["Nothing to report: the window holds no samples and no finished tasks."]
        header = (
            f"Based on the last {data.timeframe} of {data.metric_type} data "
            f"({len(samples)} samples, {task_summary['count']} finished tasks):"
        )
        text = header + "\n\n" + "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))
        analysis["advice"] = advice
        averages = {
            name: round(statistics.fmean(getattr(s, name) for s in samples), 3) if samples else 0.0
            for name in ("gpu_utilization", "memory_usage", "cpu_utilization")
        }
        return InsightReport(text, analysis, averages, self.name, len(samples))


def _trend_words(stats: SeriesStats, span_seconds: float) -> str:
    """The least-squares trend as the change it makes across the window."""
    change = stats.slope_per_hour * span_seconds / 3600
    if change == 0 or stats.peak == stats.minimum:
        return ", flat"
    if abs(change) < 0.1 * max(abs(stats.average), 1e-9):
        return ", stable"
    direction = "rising" if change > 0 else "falling"
    return f", trend {direction} by {abs(change):.3g}{stats.unit} across {_span(span_seconds)}"


def _span(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def _task_summary(tasks: list[TaskRecord]) -> dict[str, Any]:
    completed = [t for t in tasks if t.status == "completed"]
    failed = [t for t in tasks if t.status != "completed"]
    errors = Counter(t.error.split(":")[0] for t in failed if t.error)
    by_operation = Counter(t.operation for t in tasks)
    return {
        "count": len(tasks),
        "completed": len(completed),
        "failed": len(failed),
        "failure_rate": round(len(failed) / len(tasks), 4) if tasks else 0.0,
        "avg_execution_ms": round(statistics.fmean(t.execution_time * 1000 for t in tasks), 3) if tasks else 0.0,
        "avg_queue_ms": round(statistics.fmean(t.queue_time_ms for t in tasks), 3) if tasks else 0.0,
        "avg_gflops": round(statistics.fmean(t.gflops for t in completed if t.gflops), 3)
        if any(t.gflops for t in completed)
        else 0.0,
        "by_operation": dict(by_operation.most_common()),
        "top_errors": dict(errors.most_common(3)),
        "by_status": dict(Counter(t.status for t in tasks)),
        "devices": dict(Counter(t.device_used for t in completed)),
    }


def _advice(metric_type: str, series: dict[str, dict], tasks: dict[str, Any]) -> list[str]:
    advice: list[str] = []
    memory = series.get("memory_usage")
    if memory:
        if memory["peak"] >= 90:
            advice.append(
                f"Memory peaked at {memory['peak']:g}%: lower COMPUTE_MAX_TASK_MEMORY_MB or COMPUTE_MAX_CONCURRENCY "
                "so that concurrent tasks cannot exhaust RAM."
            )
        elif memory["slope_per_hour"] > 5:
            advice.append(
                f"Memory usage is climbing {memory['slope_per_hour']:g}% per hour: look for a process that keeps "
                "growing before it reaches the limit."
            )
        else:
            advice.append(f"Memory headroom is fine (peak {memory['peak']:g}%); no change needed.")
    cpu = series.get("cpu_utilization")
    if cpu and metric_type in ("performance", "efficiency"):
        if cpu["average"] >= 85:
            advice.append(
                f"CPU averaged {cpu['average']:g}%: the machine is saturated; queue fewer tasks at once or add a worker machine."
            )
        elif cpu["average"] < 20 and tasks["avg_queue_ms"] > tasks["avg_execution_ms"] > 0:
            advice.append(
                "Tasks waited longer in the queue than they ran while the CPU was mostly idle: raise "
                "COMPUTE_MAX_CONCURRENCY."
            )
    if tasks["count"] and tasks["avg_queue_ms"] > 2 * max(tasks["avg_execution_ms"], 1):
        advice.append(
            f"Average queue wait ({tasks['avg_queue_ms']:g} ms) is more than twice the execution time: give urgent "
            "tasks a higher priority (1-10) or batch small tasks into fewer, larger ones."
        )
    if tasks["count"] and tasks["failure_rate"] > 0.05:
        top = ", ".join(f"{k} ({v})" for k, v in tasks["top_errors"].items()) or "see the task list"
        advice.append(
            f"{tasks['failure_rate'] * 100:.1f}% of tasks did not complete; most common causes: {top}. "
            "Check sizes against the limits and the timeouts you pass."
        )
    elif metric_type == "errors":
        advice.append(
            "No task failures in the window." if tasks["count"] else "No tasks finished in the window, so no error pattern to report."
        )
    per_minute = series.get("tasks_per_minute")
    if per_minute and metric_type == "performance" and per_minute["peak"] > 3 * max(per_minute["average"], 1e-9):
        advice.append(
            f"Load is bursty (peak {per_minute['peak']:g} vs average {per_minute['average']:g} tasks/min): spread "
            "submissions or use lower priorities for background work."
        )
    if metric_type == "efficiency" and tasks["avg_gflops"]:
        small = tasks["by_operation"].get("vector_operations", 0) + tasks["by_operation"].get("compute", 0)
        advice.append(
            f"Matrix and vector work achieved {tasks['avg_gflops']:g} GFLOP/s on average"
            + (
                "; small element-wise tasks are dominated by per-task overhead: send larger sizes or more iterations per task."
                if small
                else "."
            )
        )
    return advice


LLM_SYSTEM_PROMPT = (
    "You are a performance engineer reviewing a compute service's metrics. You are given statistics "
    "computed from the stored metric samples and finished tasks of one time window (JSON). Write the "
    "insights for an operator: start with one line 'Based on the last <timeframe> of <metric type> data:', "
    "then numbered findings that cite the actual numbers (averages, peaks with times, trends, anomalies, "
    "task failures), then numbered concrete recommendations. Use only the numbers given; do not invent data. "
    "Plain text, no markdown headings, at most 12 numbered lines."
)


class LLMInsightAnalyzer:
    """Insights written by the configured LLM from the computed statistics.

    The statistics are the deterministic analyser's (`analysis`: per-series
    average, min, peak and when, trend per hour, anomalies; the task summary;
    the window's averages) and are sent as JSON in the user message. The
    model's text becomes `insights`; `analysis`, `averages` and
    `sample_count` stay the computed ones. `analyzer` is
    `llm:<provider>/<model>`.

    `registry` is the agents' ProviderRegistry (`resolve(model)` →
    (provider, model id)); `model` empty means its default model. With no
    provider configured, or when the call fails, times out or answers
    nothing, the deterministic report is returned (`analyzer`
    `deterministic`; after a failure `analysis.llm_error` says why)."""

    name = "llm"

    def __init__(
        self,
        registry,
        *,
        model: str = "",
        fallback: InsightAnalyzer | None = None,
        max_tokens: int = 1024,
        timeout_seconds: float = 120.0,
    ):
        self._registry = registry
        self._model = model
        self._fallback = fallback or DeterministicAnalyzer()
        self._max_tokens = max_tokens
        self._timeout = timeout_seconds

    @staticmethod
    def facts(data: InsightData, report: InsightReport) -> dict[str, Any]:
        """What the model is told: the computed statistics of the window."""
        return {
            "metric_type": data.metric_type,
            "timeframe": data.timeframe,
            "window": report.analysis.get("window"),
            "sample_count": report.sample_count,
            "averages": report.averages,
            "series": report.analysis.get("series", {}),
            "tasks": report.analysis.get("tasks", {}),
            "computed_advice": report.analysis.get("advice", []),
        }

    async def analyze(self, data: InsightData) -> InsightReport:
        computed = await self._fallback.analyze(data)
        try:
            provider, model = await self._registry.resolve(self._model)
        except DomainError:
            return computed  # no LLM configured: the deterministic analysis
        messages = [
            ChatMessage("system", LLM_SYSTEM_PROMPT),
            ChatMessage(
                "user",
                f"Metric type: {data.metric_type}. Timeframe: {data.timeframe}.\nStatistics (JSON):\n"
                + json.dumps(self.facts(data, computed), indent=1, sort_keys=True),
            ),
        ]
        try:
            completion = await asyncio.wait_for(complete(provider, model, messages, max_tokens=self._max_tokens), self._timeout)
            text = completion.text.strip()
            if not text:
                raise ValueError("the model answered with no text")
        except (DomainError, ValueError, asyncio.TimeoutError) as error:
            reason = getattr(error, "detail", None) or str(error) or "the model did not answer in time"
            log.warning("compute.insights.llm_failed", provider=provider.info.id, model=model, error=reason)
            analysis = {**computed.analysis, "llm_error": f"{provider.info.id}/{model}: {reason}"}
            return dataclasses.replace(computed, analysis=analysis)
        return InsightReport(
            text, computed.analysis, computed.averages, f"llm:{provider.info.id}/{model}", computed.sample_count
        )


class InsightService:
    def __init__(
        self,
        samples: MetricSampleRepository,
        tasks: TaskRepository,
        analyzer: InsightAnalyzer | None = None,
        clock: Clock = utc_now,
    ):
        self._samples = samples
        self._tasks = tasks
        self.analyzer = analyzer or DeterministicAnalyzer()
        self._clock = clock

    async def generate(self, metric_type: str, timeframe: str) -> InsightReport:
        return await self.analyzer.analyze(await self.window(metric_type, timeframe))

    async def statistics(self, metric_type: str, timeframe: str) -> dict[str, Any]:
        """The computed statistics of a window, as the LLM insights get them
        (`LLMInsightAnalyzer.facts`); `/ai/tasks` system_analysis sends them too."""
        data = await self.window(metric_type, timeframe)
        return LLMInsightAnalyzer.facts(data, await DeterministicAnalyzer().analyze(data))

    async def window(self, metric_type: str, timeframe: str) -> InsightData:
        """The stored samples and finished tasks of the last `timeframe`."""
        if metric_type not in SERIES:
            raise ValidationFailed(
                f"metric_type must be one of {', '.join(SERIES)}, got {metric_type!r}", fields={"metric_type": "unknown"}
            )
        start, end = window(timeframe, self._clock())
        samples = await self._samples.samples_between(start.timestamp(), end.timestamp())
        tasks = await self._tasks.tasks_finished_between(start.timestamp(), end.timestamp())
        return InsightData(metric_type, timeframe, start, end, samples, tasks)
