"""Fixed-window rate limits per bucket (a user, a credential, or a client IP).

Each bucket's window starts with its first request and lasts
`window_seconds`; within it at most `limit` requests pass. The decision
carries the X-RateLimit-* headers: Limit, Remaining (after this request) and
Reset (Unix time, seconds, when the window ends), plus Retry-After (seconds)
on a refusal. Limits are per server process."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable

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
    def __init__(self, window_seconds: float = 60.0, clock: Callable[[], float] = time.time):
        self.window_seconds = window_seconds
        self._clock = clock
        # bucket -> [window start, requests counted in it]
        self._windows: dict[str, list[float]] = {}

    def hit(self, bucket: str, limit: int, *, count: bool = True) -> Decision | None:
        """Counts one request against `bucket`; with count=False only
        reports the bucket's state and always allows. None when `limit` is 0
        (no limit)."""
        if limit <= 0:
            return None
        now = self._clock()
        window = self._windows.get(bucket)
        if window is None or now >= window[0] + self.window_seconds:
            if len(self._windows) >= _SWEEP_AT:
                self._sweep(now)
            window = [now, 0]
            if count:
                self._windows[bucket] = window
        ends = window[0] + self.window_seconds
        allowed = not count or window[1] < limit
        if allowed and count:
            window[1] += 1
        return Decision(
            allowed=allowed,
            limit=limit,
            remaining=max(0, limit - int(window[1])),
            reset_at=math.ceil(ends),
            retry_after=max(1, math.ceil(ends - now)),
        )

    def _sweep(self, now: float) -> None:
        for bucket in [b for b, w in self._windows.items() if now >= w[0] + self.window_seconds]:
            del self._windows[bucket]
