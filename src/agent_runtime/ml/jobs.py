"""Runs fine-tuning jobs, one worker process each (`agent_runtime.ml.worker`),
at most `max_concurrent` at a time in creation order; turns the worker's
progress lines into job updates and events; cancels; and on start picks up
the jobs an earlier server left behind (resume from the last checkpoint, or
fail with the reason)."""

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
from agent_runtime.ml.models import JobEvent, JobRecord
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
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._cancelling: set[str] = set()
        self._stopping = False
        self._loop_task: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()

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
    ) -> JobRecord | None:
        status = changes.get("status")
        if status is None:
            current = await self._jobs.get_job(job_id)
            status = current.status if current else ""
        event = JobEvent(job_id, 0, event_type, iso(self._clock()), message, status, metrics, step)
        result = await self._jobs.update_job(job_id, iso(self._clock()), changes, event, only_if_status=only_if_status)
        if result is None:
            if not only_if_status or await self._jobs.get_job(job_id) is None:
                raise job_not_found(job_id)
            return None
        job, stored = result
        if stored is not None:
            self._bus.publish(stored)
        return job

    # Lifecycle --------------------------------------------------------------
    async def start(self) -> None:
        await self._recover()
        self._loop_task = asyncio.create_task(self._dispatch())

    async def _recover(self) -> None:
        for job in await self._jobs.jobs_to_recover():
            if job.status == "running":
                found = latest_checkpoint(self.job_dir(job.id))
                if found is None:
                    await self.update(
                        job.id,
                        {"status": "failed", "error": "the server stopped before the job saved its first checkpoint;"
                         " create the job again"},
                        event_type="status",
                        message="failed: server restarted before the first checkpoint",
                    )
                    continue
                await self.update(
                    job.id,
                    {"status": "queued"},
                    event_type="status",
                    message=f"server restarted: queued to resume from the checkpoint of step {found[0]}",
                    step=found[0],
                )
            elif job.status == "created":
                await self.update(job.id, {"status": "queued"}, event_type="status", message="queued")
            self._queue.put_nowait(job.id)
            log.info("ml.job.recovered", job_id=job.id, status=job.status)

    async def submit(self, job_id: str) -> None:
        await self.update(
            job_id, {"status": "queued"}, event_type="status", message="queued", only_if_status=("created",)
        )
        self._queue.put_nowait(job_id)

    async def resume(self, job_id: str) -> JobRecord | None:
        """Queues a cancelled job again, to continue from its last checkpoint
        (as after a restart); None when it is no longer cancelled."""
        found = latest_checkpoint(self.job_dir(job_id))
        where = f"from the checkpoint of step {found[0]}" if found else "from the start (it saved no checkpoint)"
        resumed = await self.update(
            job_id, {"status": "queued", "error": None}, event_type="status", message=f"resumed: queued to continue {where}",
            step=found[0] if found else 0, only_if_status=("cancelled",),
        )
        if resumed is not None:
            self._queue.put_nowait(job_id)
        return resumed

    async def _dispatch(self) -> None:
        while True:
            job_id = await self._queue.get()
            await self._slots.acquire()
            if self._stopping:
                self._slots.release()
                return
            task = asyncio.create_task(self._run_guarded(job_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_guarded(self, job_id: str) -> None:
        try:
            await self._run(job_id)
        except Exception as error:  # noqa: BLE001 - a job must never stay running silently
            log.exception("ml.job.crashed", job_id=job_id)
            with contextlib.suppress(Exception):
                await self.update(
                    job_id,
                    {"status": "failed", "error": f"internal error while running the job: {error}"},
                    event_type="status",
                    message="failed",
                    only_if_status=("queued", "running"),
                )
        finally:
            self._slots.release()

    async def _run(self, job_id: str) -> None:
        job = await self._jobs.get_job(job_id)
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
                              event_type="status", message="failed", only_if_status=("queued",))
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
                await self._on_worker_event(job_id, event, metrics, outcome)
            code = await process.wait()
        finally:
            self._processes.pop(job_id, None)
        await self._finish(job_id, started, code, outcome, directory)

    async def _on_worker_event(self, job_id: str, event: dict, metrics: dict, outcome: dict) -> None:
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
                              step=step, only_if_status=("running",))
        elif kind == "checkpoint":
            await self.update(job_id, {}, event_type="checkpoint", message=f"checkpoint saved at step {step}",
                              step=step, only_if_status=("running",))
        elif kind == "log":
            await self.update(job_id, {}, event_type="log", message=str(event.get("message", "")), step=step,
                              only_if_status=("running",))
        elif kind in ("done", "error", "stopped"):
            outcome[kind] = event

    async def _finish(self, job_id: str, job: JobRecord, code: int, outcome: dict, directory: pathlib.Path) -> None:
        if job_id in self._cancelling:
            self._cancelling.discard(job_id)
            return
        if self._stopping and (code == STOPPED_EXIT_CODE or code < 0):
            # Graceful shutdown: the job stays `running` and resumes from its
            # checkpoint when the server starts again.
            log.info("ml.job.suspended", job_id=job_id, code=code)
            return
        if code == 0 and "done" in outcome:
            try:
                model_id = await self._register_result(job, pathlib.Path(outcome["done"]["adapter_path"]))
            except Exception as error:  # noqa: BLE001
                log.exception("ml.job.register_failed", job_id=job_id)
                await self.update(job_id, {"status": "failed", "error": f"could not register the result: {error}"},
                                  event_type="status", message="failed", only_if_status=("running",))
                return
            await self.update(job_id, {"status": "succeeded", "fine_tuned_model": model_id}, event_type="status",
                              message=f"succeeded: {model_id}", only_if_status=("running",))
            log.info("ml.job.succeeded", job_id=job_id, model=model_id)
            return
        reason = outcome.get("error", {}).get("message") or _tail(directory / "worker.log") or f"worker exited with {code}"
        await self.update(job_id, {"status": "failed", "error": reason}, event_type="status",
                          message=f"failed: {reason}", only_if_status=("running",))
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
        that do not within `grace_seconds`; their jobs resume on next start."""
        self._stopping = True
        for process in list(self._processes.values()):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        if self._tasks:
            _done, pending = await asyncio.wait(list(self._tasks), timeout=grace_seconds)
            for process in list(self._processes.values()):
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task

    def abandon(self) -> None:
        """Test hook for a crash: kills the workers without a checkpoint and
        forgets everything, leaving storage as a killed server would."""
        self._stopping = True
        for process in list(self._processes.values()):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        for task in self._tasks:
            task.cancel()
        if self._loop_task:
            self._loop_task.cancel()


def _tail(path: pathlib.Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])[-500:]
