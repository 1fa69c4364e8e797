"""Runs of agent tasks in this process: claims them (a task just created,
and any runnable task whose lease is free or expired, e.g. a run whose
process died), stops them, and ends each exactly once with a terminal
status, its artifacts and its final events. The turns themselves are
TurnLoop's; pauses are RunPauses'; leases are RunLeases'.

Each run is one asyncio task; stopping cancels it (a running command's
process group is killed) and ends it `stopped`. A run whose lease was lost
is cancelled and ends here without writing anything: its new holder goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib

import structlog

from agent_runtime.agents import run_events
from agent_runtime.agents.approvals import ApprovalManager
from agent_runtime.config import AgentsConfig, LLMSettings
from agent_runtime.agents.leases import RunLeases
from agent_runtime.agents.models import (
    ACCEPTED,
    ACTIVE_STATUSES,
    COMPLETED,
    FAILED,
    QUEUED,
    RUNNING,
    STOPPED,
    TERMINAL_STATUSES,
    LeaseLost,
    RunLease,
    TaskEventRecord,
)
from agent_runtime.agents.pauses import RunPauses
from agent_runtime.agents.ports import AgentStore, run_lease
from agent_runtime.agents.project_git import task_artifacts
from agent_runtime.agents.reporter import RunReporter
from agent_runtime.agents.run_end import RunEnded
from agent_runtime.agents.run_table import LEASE_LOST, SHUTDOWN, STOP, WATCHDOG, RunTable
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

# How often a stop of a run another process holds checks whether it ended.
STOP_POLL_SECONDS = 0.1


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
        lease_owner_file: pathlib.Path | None = None,
    ):
        self._tasks = store.tasks
        self._config = config
        self._commands_dir = commands_dir
        self.sandbox = sandbox
        per_user = min(config.runs_per_user, config.max_concurrent_runs)
        self._table = RunTable(FairScheduler(config.max_concurrent_runs, per_user))
        self.reporter = RunReporter(store.tasks, sessions, bus, clock=clock, progress=self._table.touch)
        self.approvals = ApprovalManager(store, sessions, timeout_seconds=config.approval_timeout_seconds, clock=clock)
        self.leases = RunLeases(store.leases, seconds=config.run_lease_seconds, per_user=per_user)
        self._lease_owner_file = lease_owner_file
        self._pauses = pauses = RunPauses(
            store, self.approvals, self.reporter, self._table, self.leases, timeout_seconds=config.approval_timeout_seconds, clock=clock
        )
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
        self._loops: list[asyncio.Task] = []
        # Cancellations started from notifications and renewals (kept
        # referenced until done).
        self._cancellations: set[asyncio.Task] = set()
        self._claim_now = asyncio.Event()
        # A new task is claimable from its insert on: the claims of this
        # process and its creator's claim take turns, and the creator leaves
        # a task the claims took to the run they started.
        self._claiming = asyncio.Lock()
        self._closing = False

    # Lifecycle

    async def start(self) -> None:
        """Claims the runs that were in flight when their process stopped
        (this data dir's previous process: at once; others: once their
        lease expired), then keeps claiming runnable tasks, renews this
        process's leases, and starts the watchdog."""
        if self._commands_dir is not None:
            killed = kill_leftovers(self._commands_dir)
            if killed:
                log.warning("agent.killed_leftover_commands", process_groups=killed)
        if self._lease_owner_file is not None:
            await self.leases.take_over(self._lease_owner_file)
        await self._claim_runnable("Resumed after a server restart")
        self._loops.append(asyncio.create_task(self._claim_loop(), name="agent-run-claims"))
        self._loops.append(asyncio.create_task(self._renew_loop(), name="agent-run-leases"))
        if self._config.watchdog_seconds > 0:
            self._loops.append(asyncio.create_task(self._table.watch(self._config.watchdog_seconds), name="agent-run-watchdog"))

    async def close(self) -> None:
        """Cancels every run without ending it and releases their leases:
        another process (or this data dir's next one) claims them at once
        and resumes each from what was persisted."""
        self._closing = True
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self._table.cancel_all(SHUTDOWN)
        await self.leases.release_all()

    def runs_changed(self, task_id: str) -> None:
        """A notification: the task became claimable, or was asked to stop
        (written by any process). Wakes its run here if it waits, and the
        claims."""
        self._table.wake(task_id)
        self._claim_now.set()
        run = self._table.get(task_id)
        if run is not None and not run.waiting:
            self._in_background(self._stop_if_requested(task_id))

    async def _stop_if_requested(self, task_id: str) -> None:
        task = await self._tasks.get_task(task_id)
        if task is not None and task.stop_requested:
            self._stop_here(task_id)

    def _stop_here(self, task_id: str) -> None:
        """Cancels a run of this process that was asked to stop, once: a
        second cancel would interrupt its ending."""
        run = self._table.get(task_id)
        if run is not None and not run.waiting and not run.cancel_reason:
            self._in_background(self._table.cancel(task_id, STOP))

    async def _claim_loop(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._claim_now.wait(), self.leases.renew_every)
            self._claim_now.clear()
            try:
                await self._pauses.expire_overdue()
                await self._claim_runnable("Resumed on another server process")
            except Exception:  # noqa: BLE001 - the claims outlive one failed sweep (a database restart)
                log.exception("agent.claims_failed")

    async def _claim_runnable(self, message: str) -> None:
        """Claims runnable tasks while this process has free run slots, and
        resumes each (a stop request ends it at once)."""
        busy = sum(1 for task_id in self._table.task_ids() if not self._table.get(task_id).waiting)
        async with self._claiming:
            leases = await self.leases.claim_runnable(self._config.max_concurrent_runs - busy, tuple(self._table.task_ids()))
        for lease in leases:
            try:
                with self._writing_under(lease):
                    resumed = await self._resume(lease, message)
            except Exception:  # noqa: BLE001 - LeaseLost, or a failed write: the lease expires, and the task is claimed again
                log.exception("agent.resume_failed", task_id=lease.task_id)
                self.leases.forget(lease.task_id)
                continue
            if resumed:
                self.submit(lease.task_id)

    async def _resume(self, lease: RunLease, message: str) -> bool:
        """Tells that a claimed run resumes; False when it ended instead
        (a stop request, or its task is gone)."""
        task = await self._tasks.get_task(lease.task_id)
        if task is None:
            return False
        if task.stop_requested:
            await self._end_here(lease, RunEnded(STOPPED, "Task stopped"))
            return False
        log.info("agent.resume", task_id=task.task_id, status=task.status, epoch=lease.epoch)
        # Claimed before the process that created it accepted it (or that
        # process died first): accepted here.
        told = message if task.last_event_sequence else "Task accepted"
        await self.reporter.emit(task.task_id, run_events.Status(status=task.status, message=told))
        return True

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.leases.renew_every)
            try:
                lost, stopping = await self.leases.renew()
            except Exception:  # noqa: BLE001 - a renewal that failed is retried; the fence guards the writes meanwhile
                log.exception("agent.lease_renewal_failed")
                continue
            for task_id in lost:
                log.warning("agent.lease_lost", task_id=task_id)
                self._in_background(self._table.cancel(task_id, LEASE_LOST))
            # The fallback of a stop whose notification this process missed
            # (or, on SQLite, that another process wrote).
            for task_id in stopping:
                self._stop_here(task_id)

    def _in_background(self, work) -> None:
        task = asyncio.create_task(work)
        self._cancellations.add(task)
        task.add_done_callback(self._cancellations.discard)

    @contextlib.contextmanager
    def _writing_under(self, lease: RunLease):
        """Writes of `lease`'s task in this block are fenced by it."""
        token = run_lease.set(lease)
        try:
            yield
        finally:
            run_lease.reset(token)

    async def accept(self, task_id: str) -> None:
        """Claims and starts the run of a task just created (unless another
        process's claims were quicker)."""
        async with self._claiming:
            if self.leases.held(task_id) is not None:
                return
            lease = await self.leases.claim(task_id)
        if lease is None:
            return
        with self._writing_under(lease):
            await self.reporter.emit(task_id, run_events.Status(status=ACCEPTED, message="Task accepted"))
        self.submit(task_id)

    def submit(self, task_id: str) -> None:
        if not self._closing:
            self._table.start(task_id, self._drive)

    def is_running_here(self, task_id: str) -> bool:
        return task_id in self._table

    def wake(self, task_id: str) -> None:
        """A decision or input of this process: the run waiting for it (or
        the claims, when it waits nowhere) goes on."""
        self._table.wake(task_id)
        self._claim_now.set()

    async def stop(self, task_id: str) -> None:
        """Stops a run and waits until it ended: a run of this process is
        cancelled; a paused or unclaimed one is claimed and ended here; one
        another process runs is stopped by that process, which learns of
        the stored stop request from a notification, else at its next lease
        renewal."""
        if await self._table.cancel(task_id, STOP):
            return
        lease = await self.leases.claim(task_id)
        if lease is not None:
            with self._writing_under(lease):
                await self._end_here(lease, RunEnded(STOPPED, "Task stopped"))
            return
        deadline = asyncio.get_running_loop().time() + 2 * self._config.run_lease_seconds
        while asyncio.get_running_loop().time() < deadline:
            task = await self._tasks.get_task(task_id)
            if task is None or task.status in TERMINAL_STATUSES:
                return
            await asyncio.sleep(STOP_POLL_SECONDS)

    async def _end_here(self, lease: RunLease, ended: RunEnded) -> None:
        try:
            await self._finish(lease.task_id, ended)
        except LeaseLost:
            self.leases.forget(lease.task_id)
            return
        await self.leases.release(lease.task_id)

    # The run

    async def _drive(self, task_id: str) -> None:
        # The run outlives the request that started it: log under its own id.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(task_id=task_id)
        run = self._table.get(task_id)
        assert run is not None
        run_lease.set(self.leases.held(task_id))
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
                if reason in (SHUTDOWN, LEASE_LOST) or not reason:
                    raise
                if reason == WATCHDOG:
                    ended = RunEnded(
                        FAILED,
                        f"No progress for {self._config.watchdog_seconds:g} seconds; the watchdog stopped the run",
                        "WATCHDOG_TIMEOUT",
                    )
                else:
                    ended = RunEnded(STOPPED, "Task stopped")
            except LeaseLost:
                raise
            except DomainError as error:
                ended = RunEnded(FAILED, error.detail, error.code)
            except Exception as error:  # noqa: BLE001 - a run ends failed, never silently
                log.exception("agent.run_crashed", task_id=task_id)
                ended = RunEnded(FAILED, f"Internal error: {type(error).__name__}: {error}", "INTERNAL_ERROR")
            self._table.mark_ending(task_id)
            if self.leases.held(task_id) is None:
                # Stopped while paused (holding no lease): ended under a new
                # claim, unless another process has claimed it since.
                lease = await self.leases.claim(task_id)
                if lease is None:
                    raise LeaseLost(task_id)
                run_lease.set(lease)
            await self._finish(task_id, ended)
            if not await self.leases.release(task_id):
                # A write of this run failed in a way that did not show the
                # fence (a connection the database closed while this process
                # was stopped), and the process that claimed the task since
                # wrote its end.
                log.warning("agent.lease_lost", task_id=task_id, detail="another process took the task over, or it was deleted")
        except asyncio.CancelledError:
            pass
        except LeaseLost:
            # Another process claimed the task: it goes on from what was
            # persisted, and nothing of this run's was written after.
            log.warning("agent.write_refused_lease_lost", task_id=task_id)
        finally:
            # Released after the end; otherwise kept in storage (a shutdown
            # releases it, a failed write lets it expire) but not renewed.
            self.leases.forget(task_id)
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
