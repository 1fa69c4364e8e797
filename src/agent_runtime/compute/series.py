"""The stored metrics series of a time window, averaged into buckets of
equal width so that a plot of seven days of ten-second samples stays a few
hundred points (`GET /metrics/series`)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from agent_runtime.clock import Clock, utc_now
from agent_runtime.errors import ValidationFailed
from agent_runtime.compute.ports import MetricSampleRepository
from agent_runtime.compute.records import MetricSample

TIMEFRAMES = {"5m": 300, "15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600, "7d": 7 * 24 * 3600}
DEFAULT_POINTS = 360
MAX_POINTS = 2000
PLOTTED_FIELDS = (
    "cpu_utilization",
    "memory_usage",
    "gpu_utilization",
    "active_tasks",
    "queued_tasks",
    "tasks_per_minute",
    "avg_execution_ms",
)


def window(timeframe: str, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The start and end of the last `timeframe` before `end`."""
    if timeframe not in TIMEFRAMES:
        raise ValidationFailed(
            f"timeframe must be one of {', '.join(TIMEFRAMES)}, got {timeframe!r}", fields={"timeframe": "unknown"}
        )
    return end - dt.timedelta(seconds=TIMEFRAMES[timeframe]), end


@dataclasses.dataclass(frozen=True)
class SeriesPoint:
    at: dt.datetime
    sample_count: int
    values: dict[str, float]


@dataclasses.dataclass(frozen=True)
class MetricSeries:
    timeframe: str
    start: dt.datetime
    end: dt.datetime
    bucket_seconds: float
    sample_count: int
    points: list[SeriesPoint]


def bucket_averages(
    samples: list[MetricSample], start: dt.datetime, end: dt.datetime, buckets: int
) -> list[SeriesPoint]:
    """Averages `samples` into `buckets` buckets of equal width between
    `start` and `end`; buckets without samples are left out."""
    width = (end - start).total_seconds() / buckets
    grouped: dict[int, list[MetricSample]] = {}
    for sample in samples:
        index = min(int((sample.epoch - start.timestamp()) // width), buckets - 1)
        grouped.setdefault(max(index, 0), []).append(sample)
    return [
        SeriesPoint(
            at=start + dt.timedelta(seconds=(index + 0.5) * width),
            sample_count=len(members),
            values={name: sum(getattr(s, name) for s in members) / len(members) for name in PLOTTED_FIELDS},
        )
        for index, members in sorted(grouped.items())
    ]


class MetricSeriesService:
    def __init__(self, samples: MetricSampleRepository, clock: Clock = utc_now):
        self._samples = samples
        self._clock = clock

    async def series(self, timeframe: str, max_points: int = 0) -> MetricSeries:
        if not 0 <= max_points <= MAX_POINTS:
            raise ValidationFailed(
                f"max_points must be between 1 and {MAX_POINTS} (0 means {DEFAULT_POINTS}), got {max_points}",
                fields={"max_points": "out of range"},
            )
        start, end = window(timeframe, self._clock())
        buckets = max_points or DEFAULT_POINTS
        samples = await self._samples.samples_between(start.timestamp(), end.timestamp())
        return MetricSeries(
            timeframe=timeframe,
            start=start,
            end=end,
            bucket_seconds=(end - start).total_seconds() / buckets,
            sample_count=len(samples),
            points=bucket_averages(samples, start, end, buckets),
        )
