"""The runs of this process: one asyncio task each, its run slot
(FairScheduler), its wake-up (a decision or input of this process), its last
progress (for the watchdog), and why it was cancelled."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Awaitable, Callable, Coroutine, TypeVar

import structlog

from agent_runtime.agents.scheduler import FairScheduler

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Why a run was cancelled: the runner ends it accordingly.
SHUTDOWN = "shutdown"
STOP = "stop"
WATCHDOG = "watchdog"
# Another process claimed the task: the run ends here without writing.
LEASE_LOST = "lease_lost"


@dataclasses.dataclass
class Run:
    task: asyncio.Task
    progress_at: float
    waiting: bool = False
    cancel_reason: str = ""
    holds_slot: bool = False
    # Its end is being written: a stop or the watchdog waits for it rather
    # than cancel it half-written (which would leave the task `running`).
    ending: bool = False
    # Whose run it is (the task's owner): slots are shared fairly by owner.
    owner: str = ""


class RunTable:
    def __init__(self, slots: FairScheduler):
        self._slots = slots
        self._runs: dict[str, Run] = {}
        self._wakeups: dict[str, asyncio.Event] = {}

    def start(self, task_id: str, drive: Callable[[str], Coroutine[None, None, None]]) -> None:
        if task_id not in self._runs:
            self._runs[task_id] = Run(asyncio.create_task(drive(task_id)), time.monotonic())

    def get(self, task_id: str) -> Run | None:
        return self._runs.get(task_id)

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._runs

    def task_ids(self) -> list[str]:
        return list(self._runs)

    def touch(self, task_id: str) -> None:
        """The run made progress (the watchdog's measure)."""
        run = self._runs.get(task_id)
        if run is not None:
            run.progress_at = time.monotonic()

    def wake(self, task_id: str) -> None:
        event = self._wakeups.get(task_id)
        if event is not None:
            event.set()

    def mark_ending(self, task_id: str) -> None:
        """The run's end is decided: from now on only a shutdown cancels it."""
        self._runs[task_id].ending = True

    async def cancel(self, task_id: str, reason: str) -> bool:
        """Cancels the run (or lets it finish ending) and waits until it
        ended; False when it does not run here."""
        run = self._runs.get(task_id)
        if run is None:
            return False
        if not run.ending:
            run.cancel_reason = reason
            run.task.cancel()
        await asyncio.gather(run.task, return_exceptions=True)
        return True

    async def cancel_all(self, reason: str) -> None:
        runs = list(self._runs.values())
        for run in runs:
            run.cancel_reason = reason
            run.task.cancel()
        await asyncio.gather(*(run.task for run in runs), return_exceptions=True)

    def remove(self, task_id: str) -> None:
        """Forgets an ended run and frees its slot."""
        run = self._runs.pop(task_id, None)
        self._wakeups.pop(task_id, None)
        if run is not None and run.holds_slot:
            run.holds_slot = False
            self._slots.release(run.owner)

    async def take_slot(self, task_id: str, announce_wait: Callable[[], Awaitable[None]]) -> None:
        """Waits for a run slot; `announce_wait()` first when it will wait."""
        run = self._runs[task_id]
        if self._slots.would_wait(run.owner):
            await announce_wait()
        await self._slots.acquire(run.owner)
        run.holds_slot = True

    async def pause(
        self,
        task_id: str,
        check: Callable[[], Awaitable[tuple[T | None, float]]],
        announce_wait: Callable[[], Awaitable[None]],
    ) -> T:
        """Waits, with the run slot freed, until `check()` gives a value
        (woken at once by decisions of this process, else polled after the
        seconds it says); then takes a slot again."""
        wakeup = self._wakeups.setdefault(task_id, asyncio.Event())
        run = self._runs.get(task_id)
        if run is not None:
            run.waiting = True
            # Waiting for a human or the client frees the slot for other runs.
            if run.holds_slot:
                run.holds_slot = False
                self._slots.release(run.owner)
        try:
            while True:
                # Cleared before the check: a wake-up during it is not lost.
                wakeup.clear()
                value, wait = await check()
                if value is not None:
                    break
                if wait > 0:
                    try:
                        await asyncio.wait_for(wakeup.wait(), wait)
                    except asyncio.TimeoutError:
                        pass
        finally:
            if run is not None:
                run.waiting = False
                run.progress_at = time.monotonic()
        if run is not None and not run.holds_slot:
            await self.take_slot(task_id, announce_wait)
        return value

    async def watch(self, seconds: float) -> None:
        """The watchdog: cancels runs that made no progress for `seconds`
        (a run waiting for a human or the client is not stalled)."""
        interval = max(0.05, min(5.0, seconds / 4))
        while True:
            await asyncio.sleep(interval)
            deadline = time.monotonic() - seconds
            for task_id, run in list(self._runs.items()):
                if not run.waiting and not run.ending and run.progress_at < deadline and not run.cancel_reason:
                    log.warning("agent.watchdog", task_id=task_id)
                    run.cancel_reason = WATCHDOG
                    run.task.cancel()
