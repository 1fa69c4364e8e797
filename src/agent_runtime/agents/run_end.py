"""How a run ends: raised anywhere in a run, caught once by the runner."""

from __future__ import annotations


class RunEnded(Exception):
    """Ends a run with a terminal status."""

    def __init__(self, status: str, summary: str, code: str | None = None, success: bool = False):
        super().__init__(summary)
        self.status, self.summary, self.code, self.success = status, summary, code, success
