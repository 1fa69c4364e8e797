"""Fixed-window rate limits per bucket (a user, a credential, or a client IP).

Each bucket's window starts with its first request and lasts
`window_seconds`; within it at most `limit` requests pass. The decision
carries the X-RateLimit-* headers: Limit, Remaining (after this request) and
Reset (Unix time, seconds, when the window ends), plus Retry-After (seconds)
on a refusal. A refused request counts too (it used the server all the
same). The windows are counted per server process on SQLite, and shared by
every process on the database on PostgreSQL."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable

from agent_runtime.identity.models import RateWindow
from agent_runtime.identity.ports import RateWindows

# Expired windows are swept once this many buckets exist.
_SWEEP_AT = 10_000


@dataclasses.dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int
    retry_after: int

    def headers(self) -> tuple[tuple[str, str], ...]:
        headers = (
            ("x-ratelimit-limit", str(self.limit)),
            ("x-ratelimit-remaining", str(self.remaining)),
            ("x-ratelimit-reset", str(self.reset_at)),
        )
        if not self.allowed:
            headers += (("retry-after", str(self.retry_after)),)
        return headers


class RateLimiter:
    """Decides on requests from the counts of a RateWindows port: in memory
    for one process (MemoryRateWindows, SQLite), in the database for all the
    processes on it (PostgreSQL: storage/postgres/ratelimit.py)."""

    def __init__(self, windows: RateWindows, window_seconds: float = 60.0):
        self.window_seconds = window_seconds
        self._windows = windows

    async def hit(self, bucket: str, limit: int, *, count: bool = True) -> Decision | None:
        """Counts one request against `bucket`; with count=False only
        reports the bucket's state and always allows. None when `limit` is 0
        (no limit)."""
        if limit <= 0:
            return None
        window = await self._windows.count(bucket, self.window_seconds, count=count)
        ends = window.started_at + self.window_seconds
        return Decision(
            allowed=not count or window.requests <= limit,
            limit=limit,
            remaining=max(0, limit - window.requests),
            reset_at=math.ceil(ends),
            retry_after=max(1, math.ceil(ends - window.now)),
        )


class MemoryRateWindows:
    """One process's windows, in a dict (RateWindows port)."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        # bucket -> [window start, requests counted in it]
        self._windows: dict[str, list[float]] = {}

    async def count(self, bucket: str, window_seconds: float, *, count: bool = True) -> RateWindow:
        now = self._clock()
        window = self._windows.get(bucket)
        if window is None or now >= window[0] + window_seconds:
            if len(self._windows) >= _SWEEP_AT:
                self._sweep(now, window_seconds)
            window = [now, 0]
            if count:
                self._windows[bucket] = window
        if count:
            window[1] += 1
        return RateWindow(started_at=window[0], requests=int(window[1]), now=now)

    def _sweep(self, now: float, window_seconds: float) -> None:
        for bucket in [b for b, w in self._windows.items() if now >= w[0] + window_seconds]:
            del self._windows[bucket]
