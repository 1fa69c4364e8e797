"""Runs fine-tuning jobs, one worker process each (`agent_runtime.ml.worker`),
at most `max_concurrent` at a time: claims them from the lease queue
(job_leases.py) oldest first, whenever a slot is free, a job became
claimable (a notification) or at each sweep; turns the worker's progress
lines into job updates and events, fenced by the job's lease; cancels. A
claimed job left `running` by a process that died or stopped resumes from
its last checkpoint, or fails with the reason."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import signal
import sys
from typing import Awaitable, Callable

import structlog

from agent_runtime.clock import Clock, iso, utc_now
from agent_runtime.events.bus import EventBus
from agent_runtime.errors import NotFound
from agent_runtime.ml.job_leases import JobLeases
from agent_runtime.ml.models import JobEvent, JobLease, JobRecord
from agent_runtime.ml.ports import FileRepository, JobRepository, ModelRepository
from agent_runtime.ml.worker import STOPPED_EXIT_CODE, latest_checkpoint

log = structlog.get_logger(__name__)

# Called with (job, adapter_dir) when a worker finished; returns the id of the
# registered fine-tuned model.
RegisterResult = Callable[[JobRecord, pathlib.Path], Awaitable[str]]
METRIC_KEYS = {
    "metrics": ("step", "total_steps", "loss", "tokens_per_second", "trained_tokens"),
    "eval": ("step", "validation_loss", "accuracy"),
}


def job_not_found(job_id: str) -> NotFound:
    return NotFound(f"Fine-tuning job {job_id!r} not found", code="JOB_NOT_FOUND")


class JobRunner:
    def __init__(
        self,
        jobs: JobRepository,
        models: ModelRepository,
        files: FileRepository,
        bus: EventBus[JobEvent],
        jobs_dir: pathlib.Path,
        register_result: RegisterResult,
        leases: JobLeases,
        *,
        max_concurrent: int = 1,
        clock: Clock = utc_now,
        python: str = sys.executable,
    ):
        self._jobs = jobs
        self._models = models
        self._files = files
        self._bus = bus
        self._jobs_dir = jobs_dir
        self._register_result = register_result
        self._clock = clock
        self._python = python
        self._leases = leases
        self._max_concurrent = max_concurrent
        # Set when a claim may find something: a job queued or released, a slot freed.
        self._wake = asyncio.Event()
        self._runs: dict[str, asyncio.Task] = {}
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._cancelling: set[str] = set()
        self._stopping = False
        self._loop_tasks: list[asyncio.Task] = []
        self._checks: set[asyncio.Task] = set()

    def job_dir(self, job_id: str) -> pathlib.Path:
        return self._jobs_dir / job_id

    # Updates ----------------------------------------------------------------
    async def update(
        self,
        job_id: str,
        changes: dict,
        *,
        event_type: str,
        message: str,
        metrics: dict | None = None,
        step: int = 0,
        only_if_status: tuple[str, ...] = (),
        lease: JobLease | None = None,
    ) -> JobRecord | None:
        status = changes.get("status")
        if status is None:
            current = await self._jobs.get_job(job_id)
            status = current.status if current else ""
        event = JobEvent(job_id, 0, event_type, iso(self._clock()), message, status, metrics, step)
        result = await self._jobs.update_job(
            job_id, iso(self._clock()), changes, event, only_if_status=only_if_status, lease=lease
        )
        if result is None:
            if not only_if_status or await self._jobs.get_job(job_id) is None:
                raise job_not_found(job_id)
            return None
        job, stored = result
        if stored is not None:
            self._bus.publish(stored)
        return job

    # Lifecycle --------------------------------------------------------------
    async def start(self, lease_owner_file: pathlib.Path) -> None:
        await self._leases.take_over(lease_owner_file)
        self._loop_tasks = [asyncio.create_task(self._dispatch()), asyncio.create_task(self._renew())]

    def job_changed(self, job_id: str) -> None:
        """A job became claimable or was cancelled, on any process."""
        self._wake.set()
        if job_id in self._processes:
            check = asyncio.create_task(self._stop_if_cancelled(job_id))
            self._checks.add(check)
            check.add_done_callback(self._checks.discard)

    async def _stop_if_cancelled(self, job_id: str) -> None:
        job = await self._jobs.get_job(job_id)
        if job is not None and job.status == "cancelled":
            await self.cancel_running(job_id)

    async def submit(self, job_id: str) -> None:
        await self.update(
            job_id, {"status": "queued", "data_dir_id": self._leases.data_dir_id}, event_type="status",
            message="queued", only_if_status=("created",),
        )
        self._wake.set()

    async def resume(self, job_id: str) -> JobRecord | None:
        """Queues a cancelled job again, to continue from its last checkpoint
        (as after a restart); None when it is no longer cancelled."""
        found = latest_checkpoint(self.job_dir(job_id))
        where = f"from the checkpoint of step {found[0]}" if found else "from the start (it saved no checkpoint)"
        resumed = await self.update(
            job_id, {"status": "queued", "error": None}, event_type="status", message=f"resumed: queued to continue {where}",
            step=found[0] if found else 0, only_if_status=("cancelled",),
        )
        self._wake.set()
        return resumed

    async def _dispatch(self) -> None:
        while not self._stopping:
            self._wake.clear()
            free = self._max_concurrent - len(self._runs)
            try:
                claimed = await self._leases.claim(free) if free > 0 else []
            except Exception:  # noqa: BLE001 - the next sweep claims again
                log.exception("ml.jobs.claim_failed")
                claimed = []
            for lease in claimed:
                self._runs[lease.job_id] = asyncio.create_task(self._run_guarded(lease))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._leases.renew_every)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._leases.renew_every)
            try:
                lost = await self._leases.renew()
            except Exception:  # noqa: BLE001 - renewed at the next turn, unless the leases lapsed
                log.exception("ml.jobs.renew_failed")
                lost = self._leases.lapsed()
            for job_id in lost:
                # Claimed by another process, cancelled, or lapsed: its
                # writes are fenced already; its worker stops.
                log.warning("ml.job.lease_lost", job_id=job_id)
                await self.cancel_running(job_id)

    async def _run_guarded(self, lease: JobLease) -> None:
        job_id = lease.job_id
        try:
            await self._run(lease)
        except Exception as error:  # noqa: BLE001 - a job must never stay running silently
            log.exception("ml.job.crashed", job_id=job_id)
            with contextlib.suppress(Exception):
                await self.update(
                    job_id,
                    {"status": "failed", "error": f"internal error while running the job: {error}"},
                    event_type="status",
                    message="failed",
                    only_if_status=("queued", "running"),
                    lease=lease,
                )
        finally:
            self._runs.pop(job_id, None)
            with contextlib.suppress(Exception):
                await self._leases.release(lease)
            self._wake.set()

    async def _resume_left_behind(self, lease: JobLease) -> JobRecord | None:
        """A claimed job still `running`: the process that ran it died or
        stopped. Queued again to continue from its last checkpoint; failed
        when it saved none."""
        job_id = lease.job_id
        found = latest_checkpoint(self.job_dir(job_id))
        if found is None:
            return await self.update(
                job_id,
                {"status": "failed", "error": "its process stopped before the job saved its first checkpoint;"
                 " create the job again"},
                event_type="status",
                message="failed: its process stopped before the first checkpoint",
                only_if_status=("running",),
                lease=lease,
            )
        log.info("ml.job.resumed", job_id=job_id, step=found[0])
        return await self.update(
            job_id,
            {"status": "queued"},
            event_type="status",
            message=f"resumed: its process stopped; queued to resume from the checkpoint of step {found[0]}",
            step=found[0],
            only_if_status=("running",),
            lease=lease,
        )

    async def _run(self, lease: JobLease) -> None:
        job_id = lease.job_id
        job = await self._jobs.get_job(job_id)
        if job is not None and job.status == "running" and not self._stopping:
            job = await self._resume_left_behind(lease)
        if job is None or job.status != "queued" or self._stopping:
            return
        model = await self._models.get_model(job.model_id)
        training = await self._files.get_file(job.training_file)
        validation = await self._files.get_file(job.validation_file) if job.validation_file else None
        missing = (
            f"model {job.model_id!r}" if model is None else
            f"training file {job.training_file!r}" if training is None else
            f"validation file {job.validation_file!r}" if job.validation_file and validation is None else None
        )
        if missing:
            await self.update(job_id, {"status": "failed", "error": f"{missing} no longer exists"},
                              event_type="status", message="failed", only_if_status=("queued",), lease=lease)
            return
        directory = self.job_dir(job_id)
        directory.mkdir(parents=True, exist_ok=True)
        resume = latest_checkpoint(directory)
        spec = {
            "job_id": job_id,
            "model_path": model.path,
            "train_path": training.path,
            "valid_path": validation.path if validation else None,
            "output_dir": str(directory),
            "hyperparameters": job.hyperparameters,
            "device": job.compute_config.get("device", "cpu"),
            "resume_step": resume[0] if resume else 0,
            "resume_adapter": str(resume[1]) if resume else None,
        }
        spec_path = directory / "spec.json"
        spec_path.write_text(json.dumps(spec, indent=2))
        started = await self.update(
            job_id,
            {"status": "running", "error": None},
            event_type="status",
            message=f"running (resuming at step {resume[0]})" if resume else "running",
            step=resume[0] if resume else 0,
            only_if_status=("queued",),
            lease=lease,
        )
        if started is None:
            return
        with open(directory / "worker.log", "ab") as log_file:
            process = await asyncio.create_subprocess_exec(
                self._python, "-m", "agent_runtime.ml.worker", str(spec_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                limit=1 << 20,
            )
        self._processes[job_id] = process
        if self._stopping:
            # stop() ran while this worker was starting: it checkpoints and exits.
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        log.info("ml.job.started", job_id=job_id, pid=process.pid, resume_step=spec["resume_step"])
        metrics = dict(started.metrics or {})
        outcome: dict = {}
        try:
            assert process.stdout is not None
            async for line in process.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                await self._on_worker_event(lease, event, metrics, outcome)
            code = await process.wait()
        finally:
            self._processes.pop(job_id, None)
        await self._finish(lease, started, code, outcome, directory)

    async def _on_worker_event(self, lease: JobLease, event: dict, metrics: dict, outcome: dict) -> None:
        job_id = lease.job_id
        kind = event.get("type")
        step = int(event.get("step") or 0)
        if kind in METRIC_KEYS:
            report = {k: float(event[k]) for k in METRIC_KEYS[kind] if event.get(k) is not None}
            metrics.update(report)
            if kind == "metrics":
                text = f"step {step}/{int(event.get('total_steps', 0))}: loss {event['loss']:.4f}"
            else:
                text = f"step {step}: validation loss {event['validation_loss']:.4f}, accuracy {event['accuracy']:.4f}"
            await self.update(job_id, {"metrics": metrics}, event_type="metrics", message=text, metrics=report,
                              step=step, only_if_status=("running",), lease=lease)
        elif kind == "checkpoint":
            await self.update(job_id, {}, event_type="checkpoint", message=f"checkpoint saved at step {step}",
                              step=step, only_if_status=("running",), lease=lease)
        elif kind == "log":
            await self.update(job_id, {}, event_type="log", message=str(event.get("message", "")), step=step,
                              only_if_status=("running",), lease=lease)
        elif kind in ("done", "error", "stopped"):
            outcome[kind] = event

    async def _finish(self, lease: JobLease, job: JobRecord, code: int, outcome: dict, directory: pathlib.Path) -> None:
        job_id = lease.job_id
        if job_id in self._cancelling:
            self._cancelling.discard(job_id)
            return
        if self._stopping and (code == STOPPED_EXIT_CODE or code < 0):
            # Graceful shutdown: the job stays `running`; the process that
            # claims it next (a sibling, or this one started again) resumes
            # it from its checkpoint.
            log.info("ml.job.suspended", job_id=job_id, code=code)
            return
        if code == 0 and "done" in outcome:
            try:
                model_id = await self._register_result(job, pathlib.Path(outcome["done"]["adapter_path"]))
            except Exception as error:  # noqa: BLE001
                log.exception("ml.job.register_failed", job_id=job_id)
                await self.update(job_id, {"status": "failed", "error": f"could not register the result: {error}"},
                                  event_type="status", message="failed", only_if_status=("running",), lease=lease)
                return
            await self.update(job_id, {"status": "succeeded", "fine_tuned_model": model_id}, event_type="status",
                              message=f"succeeded: {model_id}", only_if_status=("running",), lease=lease)
            log.info("ml.job.succeeded", job_id=job_id, model=model_id)
            return
        reason = outcome.get("error", {}).get("message") or _tail(directory / "worker.log") or f"worker exited with {code}"
        await self.update(job_id, {"status": "failed", "error": reason}, event_type="status",
                          message=f"failed: {reason}", only_if_status=("running",), lease=lease)
        log.warning("ml.job.failed", job_id=job_id, code=code, reason=reason)

    async def cancel_running(self, job_id: str) -> None:
        """Stops a running job's worker at once (SIGKILL) and waits for it."""
        process = self._processes.get(job_id)
        if process is None or process.returncode is not None:
            return
        self._cancelling.add(job_id)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), 10)

    def is_running(self, job_id: str) -> bool:
        return job_id in self._processes

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Asks running workers to checkpoint and exit (SIGTERM), kills those
        that do not within `grace_seconds`; their jobs stay running, for the
        next process that claims them to resume."""
        self._stopping = True
        for process in list(self._processes.values()):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        if self._runs:
            _done, pending = await asyncio.wait(list(self._runs.values()), timeout=grace_seconds)
            for process in list(self._processes.values()):
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            if pending:
                await asyncio.wait(pending, timeout=5)
        for task in self._loop_tasks:
            task.cancel()
        await asyncio.gather(*self._loop_tasks, *self._checks, return_exceptions=True)

    def abandon(self) -> None:
        """Test hook for a crash: kills the workers without a checkpoint and
        forgets everything, leaving storage as a killed server would."""
        self._stopping = True
        for process in list(self._processes.values()):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        for task in [*self._runs.values(), *self._loop_tasks]:
            task.cancel()


def _tail(path: pathlib.Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])[-500:]
