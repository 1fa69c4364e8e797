"""The compute system's state as one JSON-able report: the devices, the
current metrics and the computed statistics of a stored metrics window. The
`system_analysis` workflow of `POST /ai/tasks` gives it to the model."""

from __future__ import annotations

import dataclasses
from typing import Any

from agent_runtime.compute.insights import InsightService
from agent_runtime.compute.metrics import MetricsCollector
from agent_runtime.compute.service import ComputeService


class SystemFacts:
    def __init__(self, compute: ComputeService, metrics: MetricsCollector, insights: InsightService):
        self._compute = compute
        self._metrics = metrics
        self._insights = insights

    async def gather(self, metric_type: str = "performance", timeframe: str = "1h") -> dict[str, Any]:
        """Devices (`GET /devices`), current metrics (`GET /metrics`) and the
        window's statistics as `POST /ai/insights` computes them. An unknown
        metric_type or timeframe is a ValidationFailed naming the allowed ones."""
        return {
            "devices": [dataclasses.asdict(state) for state in self._compute.device_states()],
            "current_metrics": dataclasses.asdict(self._metrics.snapshot()),
            "window_statistics": await self._insights.statistics(metric_type, timeframe),
        }
