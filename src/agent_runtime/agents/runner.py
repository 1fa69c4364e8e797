"""Runs of agent tasks in this process: starts them (and, at start-up,
resumes those that were in flight when the server died), stops them, and
ends each exactly once with a terminal status, its artifacts and its final
events. The turns themselves are TurnLoop's; pauses are RunPauses'.

Each run is one asyncio task; stopping cancels it (a running command's
process group is killed) and ends it `stopped`.
"""

from __future__ import annotations

import asyncio
import pathlib

import structlog

from agent_runtime.agents import run_events
from agent_runtime.agents.approvals import ApprovalManager
from agent_runtime.config import AgentsConfig, LLMSettings
from agent_runtime.agents.models import (
    ACCEPTED,
    ACTIVE_STATUSES,
    COMPLETED,
    FAILED,
    QUEUED,
    RUNNING,
    STOPPED,
    TERMINAL_STATUSES,
    TaskEventRecord,
)
from agent_runtime.agents.pauses import RunPauses
from agent_runtime.agents.ports import AgentStore
from agent_runtime.agents.project_git import task_artifacts
from agent_runtime.agents.reporter import RunReporter
from agent_runtime.agents.run_end import RunEnded
from agent_runtime.agents.run_table import SHUTDOWN, STOP, WATCHDOG, RunTable
from agent_runtime.agents.scheduler import FairScheduler
from agent_runtime.agents.switching import AgentSwitcher
from agent_runtime.agents.turns import TurnLoop
from agent_runtime.clock import Clock, utc_now
from agent_runtime.errors import DomainError
from agent_runtime.events.bus import EventBus
from agent_runtime.llm.registry import ProviderRegistry
from agent_runtime.sessions.service import SessionService
from agent_runtime.tools.containment import Sandbox
from agent_runtime.tools.process import kill_leftovers

log = structlog.get_logger(__name__)


class AgentRunner:
    def __init__(
        self,
        store: AgentStore,
        registry: ProviderRegistry,
        sessions: SessionService,
        bus: EventBus[TaskEventRecord],
        config: AgentsConfig,
        *,
        llm: LLMSettings,
        clock: Clock = utc_now,
        sandbox: Sandbox,
        commands_dir: pathlib.Path | None = None,
        switcher: AgentSwitcher | None = None,
    ):
        self._tasks = store.tasks
        self._config = config
        self._commands_dir = commands_dir
        self.sandbox = sandbox
        self._table = RunTable(FairScheduler(config.max_concurrent_runs, min(config.runs_per_user, config.max_concurrent_runs)))
        self.reporter = RunReporter(store.tasks, sessions, bus, clock=clock, progress=self._table.touch)
        self.approvals = ApprovalManager(store, sessions, timeout_seconds=config.approval_timeout_seconds, clock=clock)
        pauses = RunPauses(store, self.approvals, self.reporter, self._table, timeout_seconds=config.approval_timeout_seconds, clock=clock)
        self._turns = TurnLoop(
            store,
            registry,
            config,
            self.reporter,
            pauses,
            self._table,
            llm=llm,
            sandbox=sandbox,
            commands_dir=commands_dir,
            switcher=switcher,
        )
        self._store = store
        self._watchdog: asyncio.Task | None = None
        self._closing = False

    # Lifecycle

    async def start(self) -> None:
        """Resumes runs that were in flight when the server last stopped and
        starts the watchdog."""
        if self._commands_dir is not None:
            killed = kill_leftovers(self._commands_dir)
            if killed:
                log.warning("agent.killed_leftover_commands", process_groups=killed)
        for task in await self._tasks.tasks_with_status(ACTIVE_STATUSES):
            if task.stop_requested:
                await self._finish(task.task_id, RunEnded(STOPPED, "Task stopped"))
                continue
            log.info("agent.resume", task_id=task.task_id, status=task.status)
            await self.reporter.emit(task.task_id, run_events.Status(status=task.status, message="Resumed after a server restart"))
            self.submit(task.task_id)
        if self._config.watchdog_seconds > 0:
            self._watchdog = asyncio.create_task(self._table.watch(self._config.watchdog_seconds))

    async def close(self) -> None:
        """Cancels every run without ending it: each is resumed on the next
        start from what was persisted."""
        self._closing = True
        if self._watchdog:
            self._watchdog.cancel()
        await self._table.cancel_all(SHUTDOWN)

    async def accept(self, task_id: str) -> None:
        """Starts the run of a task just created."""
        await self.reporter.emit(task_id, run_events.Status(status=ACCEPTED, message="Task accepted"))
        self.submit(task_id)

    def submit(self, task_id: str) -> None:
        if not self._closing:
            self._table.start(task_id, self._drive)

    def is_running_here(self, task_id: str) -> bool:
        return task_id in self._table

    def wake(self, task_id: str) -> None:
        self._table.wake(task_id)

    async def stop(self, task_id: str) -> None:
        """Stops a run of this process and waits until it ended."""
        if await self._table.cancel(task_id, STOP):
            return
        task = await self._tasks.get_task(task_id)
        if task is not None and task.status not in TERMINAL_STATUSES:
            await self._finish(task_id, RunEnded(STOPPED, "Task stopped"))

    # The run

    async def _drive(self, task_id: str) -> None:
        # The run outlives the request that started it: log under its own id.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(task_id=task_id)
        run = self._table.get(task_id)
        assert run is not None
        try:
            try:
                task = await self._tasks.get_task(task_id)
                run.owner = task.owner if task is not None else ""
                await self._table.take_slot(task_id, lambda: self._queued(task_id))
                await self.reporter.set_status(task_id, RUNNING, "Task started", only_if=(ACCEPTED, QUEUED))
                ended = await self._turns.run(task_id)
            except RunEnded as end:
                ended = end
            except asyncio.CancelledError:
                reason = run.cancel_reason
                if reason == SHUTDOWN or not reason:
                    raise
                if reason == WATCHDOG:
                    ended = RunEnded(
                        FAILED,
                        f"No progress for {self._config.watchdog_seconds:g} seconds; the watchdog stopped the run",
                        "WATCHDOG_TIMEOUT",
                    )
                else:
                    ended = RunEnded(STOPPED, "Task stopped")
            except DomainError as error:
                ended = RunEnded(FAILED, error.detail, error.code)
            except Exception as error:  # noqa: BLE001 - a run ends failed, never silently
                log.exception("agent.run_crashed", task_id=task_id)
                ended = RunEnded(FAILED, f"Internal error: {type(error).__name__}: {error}", "INTERNAL_ERROR")
            await self._finish(task_id, ended)
        except asyncio.CancelledError:
            pass
        finally:
            self._table.remove(task_id)

    async def _queued(self, task_id: str) -> None:
        await self.reporter.set_status(task_id, QUEUED, "Waiting for a free run slot", only_if=(ACCEPTED,))

    # Ending

    async def _finish(self, task_id: str, ended: RunEnded) -> None:
        task = await self._tasks.get_task(task_id)
        if task is None or task.status in TERMINAL_STATUSES:
            return
        now = self.reporter.now()
        await self.approvals.reject_pending(task_id, "task stopped" if ended.status == STOPPED else f"task ended {ended.status}")
        try:
            for artifact in await task_artifacts(self.sandbox, task, now):
                await self._store.artifacts.put_artifact(artifact)
        except Exception:  # noqa: BLE001 - artifacts must not keep a run from ending
            log.exception("agent.artifacts_failed", task_id=task_id)
        changed = await self._tasks.update_task(
            task_id,
            {
                "status": ended.status,
                "result_success": ended.success,
                "result_summary": ended.summary,
                "error_code": ended.code,
                "completed_at": now,
                "updated_at": now,
            },
            only_if_status=ACTIVE_STATUSES,
        )
        if not changed:
            return
        if ended.status == FAILED:
            await self.reporter.emit(task_id, run_events.Error(error=ended.summary, code=ended.code or "ERROR"))
        message = {COMPLETED: "Task completed successfully", STOPPED: "Task stopped"}.get(ended.status, ended.summary)
        await self.reporter.emit(task_id, run_events.Status(status=ended.status, message=message))
        log.info("agent.finished", task_id=task_id, status=ended.status, code=ended.code)
