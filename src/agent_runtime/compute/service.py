"""ComputeService: validates and queues compute tasks, runs them off the event
loop on the device the registry picks, records every change in storage and
tells watchers about it.

Queue: a priority queue (priority 10 runs first, then 9 …; equal priorities
in arrival order), at most `max_queued` waiting tasks (more is 429), at most
`max_concurrency` running at once, each in a worker thread. A running task
stops at its next checkpoint (between iterations) when cancelled or past its
timeout.

A task runs on the process that accepted it. On a database several
processes share, a cancel through another process asks this one (storage
records the request and tells it: cancel_requested), and the others' task
changes reach this one's watchers (storage/postgres/relay.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import itertools
import threading
import time
import uuid
from typing import Any, AsyncIterator

import structlog

from agent_runtime.clock import Clock, iso, utc_now
from agent_runtime.compute.host import system_memory
from agent_runtime.compute.operations import check_parameters
from agent_runtime.compute.ports import ProbeRepository, TaskRepository
from agent_runtime.compute.records import Counters, DeviceState, TaskRecord
from agent_runtime.compute.registry import BackendRegistry
from agent_runtime.compute.task_handle import CANCELLED_BY_REQUEST, Stop, TaskHandle, record_result
from agent_runtime.errors import FailedPrecondition, NotFound, RateLimited, Unavailable, ValidationFailed
from agent_runtime.events.bus import EventBus
from agent_runtime.identity.ownership import check_visible, visible

log = structlog.get_logger(__name__)

TERMINAL = frozenset({"completed", "failed", "cancelled", "timeout"})
DEFAULT_PRIORITY = 5
# How long a cancel waits for the task to stop before it answers.
CANCEL_WAIT_SECONDS = 5.0


@dataclasses.dataclass(frozen=True)
class ComputeLimits:
    max_concurrency: int = 1
    max_queued: int = 256
    default_timeout_seconds: float = 60.0
    max_timeout_seconds: float = 600.0
    max_task_memory_mb: int = 1024
    probe_second_pass_delay_seconds: float | None = 5.0


class ComputeService:
    def __init__(
        self,
        tasks: TaskRepository,
        probes: ProbeRepository,
        registry: BackendRegistry,
        *,
        limits: ComputeLimits = ComputeLimits(),
        clock: Clock = utc_now,
    ):
        self._repo = tasks
        self._probes = probes
        self.registry = registry
        self.limits = limits
        self._clock = clock
        self._queue: asyncio.PriorityQueue = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._handles: dict[str, TaskHandle] = {}
        self._running: set[str] = set()
        self._busy_devices: dict[str, int] = {}
        # Every task's changes: this process's, and on an engine several
        # processes share, the others' (storage/postgres/relay.py).
        self.updates: EventBus[TaskRecord] = EventBus()
        self.counters = Counters()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._workers: list[asyncio.Task] = []
        self._probe_ready = asyncio.Event()
        self._probe_task: asyncio.Task | None = None
        # Set on stop: the probe's thread cannot be cancelled, so it looks.
        self._abandon_probe = threading.Event()
        self._stopping = False

    # -- life cycle ----------------------------------------------------------

    async def start(self, *, probe: bool = True, probe_after: asyncio.Event | None = None) -> None:
        """Marks tasks a previous run left unfinished as failed, then starts
        the workers and (unless the registry was probed already) the probe,
        once `probe_after` is set (the server passes "start-up finished":
        start-up work on the CPU would disturb the measurements)."""
        now = self._clock()
        failed = await self._repo.fail_unfinished(
            "the server stopped before the task finished; submit it again", iso(now), now.timestamp()
        )
        if failed:
            log.warning("compute.unfinished_tasks_failed", count=failed)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.limits.max_concurrency, thread_name_prefix="compute"
        )
        if probe:
            self._probe_task = asyncio.create_task(self._probe(probe_after))
        else:
            self._probe_ready.set()
        self._workers = [asyncio.create_task(self._worker()) for _ in range(self.limits.max_concurrency)]

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Shutdown: no new tasks; queued ones fail with a reason, running
        ones stop at their next checkpoint (waited for up to
        `grace_seconds`), and every outcome is stored."""
        self._stopping = True
        self._abandon_probe.set()
        running = []
        for handle in list(self._handles.values()):
            if handle.record.status == "queued":
                await self._finish(handle, "failed", "the server shut down before the task started; submit it again")
            else:
                handle.cancel_reason = "the server shut down while the task ran; submit it again"
                handle.cancel.set()
                running.append(handle.done)
        if running:
            await asyncio.wait([asyncio.shield(done) for done in running], timeout=grace_seconds)
        for task in (*self._workers, *([self._probe_task] if self._probe_task else [])):
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _probe(self, after: asyncio.Event | None = None) -> None:
        """Start-up probe: a first pass that tasks wait for, then a second
        pass a few seconds later (start-up itself loads the CPU and can
        disturb the first); each device keeps its best figure."""
        if after is not None:
            await after.wait()
        loop = asyncio.get_running_loop()
        delays = [0.0]
        if self.limits.probe_second_pass_delay_seconds is not None:
            delays.append(self.limits.probe_second_pass_delay_seconds)
        for delay in delays:
            await asyncio.sleep(delay)
            try:
                results = await loop.run_in_executor(self._executor, self.registry.probe, self._abandon_probe)
                if results:
                    await self._probes.save_probe(results, iso(self._clock()))
            except Exception:  # noqa: BLE001 - selection falls back to the first capable device
                log.exception("compute.probe_failed")
            finally:
                self._probe_ready.set()

    async def probe_finished(self) -> None:
        await self._probe_ready.wait()

    # -- figures for health and metrics --------------------------------------

    @property
    def active_tasks(self) -> int:
        return len(self._running)

    @property
    def queued_tasks(self) -> int:
        return sum(1 for h in self._handles.values() if h.record.status == "queued")

    def device_states(self) -> list[DeviceState]:
        states = []
        for device in self.registry.devices:
            total, available = device.memory()
            states.append(
                DeviceState(
                    device.id,
                    device.name,
                    device.type,
                    self.device_status(device.id),
                    list(device.capabilities),
                    total,
                    available,
                    device.backend,
                    device.compute_units,
                )
            )
        return states

    def device_status(self, device_id: str) -> str:
        device = self.registry.device(device_id)
        if device is not None and device.backend not in self.registry.backends:
            return "unavailable"
        return "busy" if self._busy_devices.get(device_id) else "available"

    # -- tasks ---------------------------------------------------------------

    async def submit(
        self,
        operation: str,
        parameters: dict[str, Any],
        *,
        device_preference: str = "",
        priority: int | None = None,
        timeout: float | None = None,
        wait: bool = True,
        owner: str | None = None,
    ) -> TaskRecord:
        """Queues a task for `owner` (None: an administrator's), and waits
        for its end unless `wait` is false."""
        if self._stopping:
            raise Unavailable("The server is shutting down: submit the task again once it is back")
        priority = DEFAULT_PRIORITY if priority is None else priority
        if not 1 <= priority <= 10:
            raise ValidationFailed(f"priority must be between 1 and 10, got {priority}", fields={"priority": "must be 1-10"})
        if timeout is None:
            timeout = self.limits.default_timeout_seconds
        if not 0 < timeout <= self.limits.max_timeout_seconds:
            raise ValidationFailed(
                f"timeout must be more than 0 and at most {self.limits.max_timeout_seconds:g} seconds, got {timeout:g}",
                fields={"timeout": f"must be in (0, {self.limits.max_timeout_seconds:g}]"},
            )
        preference = (device_preference or "auto").strip()
        # Half of the memory available now, and never beyond the configured cap.
        max_bytes = int(min(self.limits.max_task_memory_mb * 1024 * 1024, system_memory()[1] / 2))
        spec, params = check_parameters(operation, parameters, max_task_bytes=max_bytes)
        self.registry.check_preference(spec, params, preference)
        if self.queued_tasks >= self.limits.max_queued:
            raise RateLimited(
                f"The compute queue is full ({self.limits.max_queued} tasks waiting, COMPUTE_MAX_QUEUED): "
                "retry when some have finished",
                code="QUEUE_FULL",
            )
        now = iso(self._clock())
        record = TaskRecord(
            task_id=f"task_{uuid.uuid4().hex[:16]}",
            operation=spec.name,
            status="queued",
            priority=priority,
            device_preference=preference,
            parameters=params,
            created_at=now,
            updated_at=now,
            owner_id=owner,
        )
        handle = TaskHandle(record, params, spec, timeout, asyncio.get_running_loop().create_future())
        self._handles[record.task_id] = handle
        await self._repo.insert_task(record)
        self._queue.put_nowait((-priority, next(self._order), handle))
        self._publish(record)
        if not wait:
            return dataclasses.replace(record)
        try:
            return await asyncio.shield(handle.done)
        except asyncio.CancelledError:
            # The caller went away: nobody wants the result any more.
            if record.status not in TERMINAL:
                await self._cancel_handle(handle, "the client that submitted the task disconnected")
            raise

    async def wait(self, task_id: str) -> TaskRecord:
        """The task once it finished."""
        handle = self._handles.get(task_id)
        if handle is not None:
            return await asyncio.shield(handle.done)
        return await self.get(task_id)

    async def get(self, task_id: str, scope: str | None = None) -> TaskRecord:
        """The task, if it is in `scope` (identity/ownership.py); others'
        tasks answer as missing ones."""
        handle = self._handles.get(task_id)
        record = dataclasses.replace(handle.record) if handle is not None else await self._repo.get_task(task_id)
        not_found = NotFound(f"Task {task_id} not found", code="TASK_NOT_FOUND")
        if record is None:
            raise not_found
        check_visible(record.owner_id, scope, not_found)
        return record

    async def cancel(self, task_id: str, scope: str | None = None) -> TaskRecord:
        record = await self.get(task_id, scope)  # 404 for unknown and others' ids
        handle = self._handles.get(task_id)
        if handle is None:
            if record.status in TERMINAL:
                raise FailedPrecondition(f"Task {task_id} already finished ({record.status}); nothing to cancel")
            return await self._cancel_elsewhere(task_id, scope)
        await self._cancel_handle(handle, CANCELLED_BY_REQUEST)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(handle.done), CANCEL_WAIT_SECONDS)
        return dataclasses.replace(handle.record)

    async def _cancel_elsewhere(self, task_id: str, scope: str | None) -> TaskRecord:
        """An unfinished task another process runs: that process cancels it
        (cancel_requested), and the answer is what it stored, as a local
        cancel's would be; one whose process is gone is cancelled here."""
        now = self._clock()
        cancelled = await self._repo.cancel_left_behind(task_id, CANCELLED_BY_REQUEST, iso(now), now.timestamp())
        if cancelled is not None:
            self._publish(cancelled)
            return cancelled
        finished = self.updates.subscribe(lambda update: update.task_id == task_id and update.status in TERMINAL)
        try:
            if await self._repo.request_cancel(task_id, iso(now)):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(finished.get(), CANCEL_WAIT_SECONDS)
        finally:
            finished.close()
        return await self.get(task_id, scope)

    async def cancel_requested(self, task_id: str) -> None:
        """Another process asked for this task to be cancelled: stops it as
        a request here would, if it runs here."""
        handle = self._handles.get(task_id)
        if handle is not None:
            await self._cancel_handle(handle, CANCELLED_BY_REQUEST)

    async def _cancel_handle(self, handle: TaskHandle, reason: str) -> None:
        handle.cancel_reason = reason
        handle.cancel.set()
        if handle.record.status == "queued":
            # Not started: finish it here; the worker skips it.
            await self._finish(handle, "cancelled", reason)

    async def list_tasks(self, limit: int, offset: int, scope: str | None = None) -> tuple[list[TaskRecord], int]:
        if limit < 0 or offset < 0:
            raise ValidationFailed(
                "limit and offset must not be negative", fields={"limit" if limit < 0 else "offset": "must be >= 0"}
            )
        limit = limit or 100
        if limit > 1000:
            raise ValidationFailed(f"limit must be at most 1000, got {limit}", fields={"limit": "must be <= 1000"})
        return await self._repo.list_tasks(limit, offset, scope)

    async def watch(self, scope: str | None = None) -> AsyncIterator[TaskRecord | None]:
        """Every change of a task in `scope` from now on; yields None first,
        once subscribed."""
        subscription = self.updates.subscribe(lambda record: visible(record.owner_id, scope))
        try:
            yield None
            while True:
                item = await subscription.get()
                if item is None:  # fell behind: skip ahead rather than block publishers
                    subscription.reset()
                    continue
                yield item
        finally:
            subscription.close()

    # -- execution -----------------------------------------------------------

    def _publish(self, record: TaskRecord) -> None:
        self.updates.publish(dataclasses.replace(record))

    async def _worker(self) -> None:
        while True:
            _, _, handle = await self._queue.get()
            if handle.record.status != "queued":
                continue  # cancelled while waiting
            try:
                await self._run(handle)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - one task's failure must not stop the worker
                log.exception("compute.task_crashed", task_id=handle.record.task_id)
                if handle.record.status not in TERMINAL:
                    await self._finish(handle, "failed", f"internal error: {type(error).__name__}")

    async def _run(self, handle: TaskHandle) -> None:
        await self._probe_ready.wait()
        if handle.record.status != "queued":
            return
        record = handle.record
        device, reason = self.registry.select(handle.spec, handle.params, record.device_preference)
        record.status = "running"
        record.started_at = record.updated_at = iso(self._clock())
        record.device_used = device.id
        record.queue_time_ms = round((time.monotonic() - handle.enqueued) * 1000, 3)
        self._running.add(record.task_id)
        self._busy_devices[device.id] = self._busy_devices.get(device.id, 0) + 1
        try:
            await self._repo.update_task(record)
            self._publish(record)
            # The clock starts when the worker thread does (not while the
            # executor is still busy with the start-up probe).
            deadline: list[float] = []

            def checkpoint() -> None:
                if not deadline:
                    deadline.append(time.monotonic() + handle.timeout)
                if handle.cancel.is_set():
                    raise Stop("cancelled", handle.cancel_reason)
                if time.monotonic() > deadline[0]:
                    raise Stop("timeout", f"stopped after its timeout of {handle.timeout:g} s")

            loop = asyncio.get_running_loop()
            started = time.perf_counter()
            try:
                result = await loop.run_in_executor(
                    self._executor, self.registry.run, device, record.operation, handle.params, checkpoint
                )
            except Stop as stop:
                record.execution_time = round(time.perf_counter() - started, 6)
                await self._finish(handle, stop.status, stop.reason)
                return
            except MemoryError:
                record.execution_time = round(time.perf_counter() - started, 6)
                await self._finish(handle, "failed", "ran out of memory: use a smaller size")
                return
            except Exception as error:  # noqa: BLE001 - reported on the task
                record.execution_time = round(time.perf_counter() - started, 6)
                await self._finish(handle, "failed", f"{type(error).__name__}: {error}")
                return
            wall = time.perf_counter() - started
        finally:
            self._running.discard(record.task_id)
            self._busy_devices[device.id] -= 1
        record_result(handle, device, result, wall, reason)
        if device.type == "gpu":
            self.counters.gpu_busy_seconds += result.compute_seconds
        await self._finish(handle, "completed", "")

    async def _finish(self, handle: TaskHandle, status: str, error: str) -> None:
        record = handle.record
        if record.status in TERMINAL:
            return
        now = self._clock()
        record.status = status
        record.error = error
        record.finished_at = record.updated_at = iso(now)
        record.finished_epoch = now.timestamp()
        if status == "completed":
            self.counters.completed += 1
            if record.gflops:
                self.counters.window_gflops += record.gflops
                self.counters.window_gflops_count += 1
        else:
            self.counters.failed += 1
        self.counters.window_finished += 1
        self.counters.window_execution_ms += record.execution_time * 1000
        try:
            await self._repo.update_task(record)
        finally:
            # Only now: until the outcome is stored, readers (get, wait) must
            # find the handle, not the stored row that still says `running`.
            self._handles.pop(record.task_id, None)
            self._publish(record)
            if not handle.done.done():
                handle.done.set_result(dataclasses.replace(record))
