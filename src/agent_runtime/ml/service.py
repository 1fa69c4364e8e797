"""The ML domain: model registry, training files, fine-tuning jobs. Plain
async methods; the gRPC servicer only converts messages."""

from __future__ import annotations

import os
import pathlib
import secrets
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import structlog

from agent_runtime import __version__
from agent_runtime.clock import Clock, iso, utc_now
from agent_runtime.errors import AlreadyExists, Conflict, FailedPrecondition, InvalidArgument, NotFound, PayloadTooLarge, Unavailable
from agent_runtime.events.bus import EventBus
from agent_runtime.identity.ownership import check_visible
from agent_runtime.ml import files as jsonl
from agent_runtime.ml import job_options
from agent_runtime.ml import registry
from agent_runtime.ml.inference import ModelLocation
from agent_runtime.ml.job_leases import JobLeases, data_dir_id
from agent_runtime.ml.jobs import JobRunner, job_not_found
from agent_runtime.ml.models import FINAL_STATUSES, REMOTE, FileRecord, JobEvent, JobRecord, ModelRecord
from agent_runtime.ml.ports import FileRepository, JobRepository, ModelRepository

log = structlog.get_logger(__name__)

class MLService:
    def __init__(
        self,
        models: ModelRepository,
        files: FileRepository,
        jobs: JobRepository,
        data_dir: pathlib.Path,
        *,
        max_file_bytes: int = 10 * 1024 * 1024,
        max_concurrent_jobs: int = 1,
        lease_owner: str,
        lease_seconds: float = 30.0,
        remote_models: Callable[[], Awaitable[list[ModelRecord]]] | None = None,
        events: EventBus[JobEvent] | None = None,
        clock: Clock = utc_now,
    ):
        self._models = models
        self._files = files
        self._jobs = jobs
        self._clock = clock
        self.models_dir = data_dir / "models"
        self.files_dir = data_dir / "ml" / "files"
        self.jobs_dir = data_dir / "ml" / "jobs"
        self.max_file_bytes = max_file_bytes
        # Jobs' events for their watchers (on PostgreSQL also those of other
        # processes, from the storage's relay).
        self.events: EventBus[JobEvent] = events if events is not None else EventBus()
        # Jobs are claimed by the processes with this data dir (their files are here).
        leases = JobLeases(jobs, owner=lease_owner, data_dir_id=data_dir_id(data_dir), seconds=lease_seconds, clock=clock)
        self.runner = JobRunner(
            jobs, models, files, self.events, self.jobs_dir, self._register_fine_tuned, leases,
            max_concurrent=max_concurrent_jobs, clock=clock,
        )
        # Called with a model id whenever a model is registered (the `mlx`
        # LLM provider's list of usable models).
        self.model_listeners: list[Callable[[str], None]] = []
        # The remote LLM providers' models, listed beside the local ones.
        self.remote_models = remote_models

    async def start(self, lease_owner_file: pathlib.Path) -> None:
        """`lease_owner_file`: where this process (one per data dir or
        worker dir, under its lock) names itself as job lease owner."""
        for directory in (self.models_dir, self.files_dir, self.jobs_dir):
            directory.mkdir(parents=True, exist_ok=True)
        await self.discover_models()
        await self.runner.start(lease_owner_file)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        await self.runner.stop(grace_seconds)

    # Info -------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return {
            "status": "online",
            "version": __version__,
            "message": "ML Infrastructure API is running",
            "ml_client_available": registry.mlx_available(),
        }

    # Models -----------------------------------------------------------------
    async def discover_models(self) -> list[str]:
        """Registers (or refreshes) every model directory in <data-dir>/models."""
        found = []
        now = iso(self._clock())
        for model_id, path, config in registry.discover(self.models_dir):
            existing = await self._models.get_model(model_id)
            if existing is not None and existing.kind != "mlx":
                continue
            await self._models.upsert_model(
                ModelRecord(
                    id=model_id,
                    name=existing.name if existing else model_id,
                    version=existing.version if existing else "1.0.0",
                    description=existing.description if existing else f"Local MLX {config['model_type']} model in {path}",
                    parameters=existing.parameters if existing else registry.default_parameters(config),
                    kind="mlx",
                    path=str(path),
                    adapter_path=None,
                    base_model_id=None,
                    created_at=existing.created_at if existing else now,
                    updated_at=existing.updated_at if existing and existing.path == str(path) else now,
                )
            )
            found.append(model_id)
            self._model_registered(model_id)
        if found:
            log.info("ml.models.discovered", models=found)
        return found

    async def list_models(self) -> list[ModelRecord]:
        return await self.list_local_models() + await self._remote()

    async def list_local_models(self) -> list[ModelRecord]:
        """The registered MLX models and their fine-tuned descendants."""
        return await self._models.list_models()

    async def _remote(self) -> list[ModelRecord]:
        if self.remote_models is None:
            return []
        try:
            return await self.remote_models()
        except Exception as error:  # noqa: BLE001 - a provider's outage must not hide local models
            log.warning("ml.remote_models_failed", error=str(error))
            return []

    async def get_model(self, model_id: str) -> ModelRecord:
        model = await self._models.get_model(model_id) or next((m for m in await self._remote() if m.id == model_id), None)
        if model is None:
            raise NotFound(f"Model {model_id!r} not found", code="MODEL_NOT_FOUND")
        return model

    async def _local_model(self, model_id: str) -> ModelRecord:
        model = await self._models.get_model(model_id)
        if model is None:
            raise NotFound(f"Model {model_id!r} is not a registered local model", code="MODEL_NOT_FOUND")
        return model

    async def locate(self, model_id: str) -> ModelLocation:
        """Where a registered model's files are (the inference resolver)."""
        model = await self._local_model(model_id)
        return ModelLocation(model.path, model.adapter_path)

    async def register_model(
        self,
        path: str,
        *,
        model_id: str = "",
        name: str = "",
        version: str = "",
        description: str = "",
        parameters: dict[str, Any] | None = None,
    ) -> ModelRecord:
        if not path:
            raise InvalidArgument("path is required: the directory of an MLX model on the server")
        directory = pathlib.Path(path)
        config = registry.inspect_model_dir(directory)
        model_id = registry.check_model_id(model_id or directory.name)
        merged = registry.default_parameters(config)
        for key, value in (parameters or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidArgument(f"parameters.{key} must be a number")
            merged[key] = value
        now = iso(self._clock())
        model = ModelRecord(
            id=model_id,
            name=name or model_id,
            version=version or "1.0.0",
            description=description or f"Local MLX {config['model_type']} model",
            parameters=merged,
            kind="mlx",
            path=str(directory.resolve()),
            adapter_path=None,
            base_model_id=None,
            created_at=now,
            updated_at=now,
        )
        if not await self._models.add_model(model):
            raise AlreadyExists(f"Model {model.id!r} is already registered", code="MODEL_EXISTS")
        self._model_registered(model_id)
        log.info("ml.model.registered", model_id=model_id, path=model.path)
        return model

    async def _register_fine_tuned(self, job: JobRecord, adapter_dir: pathlib.Path) -> str:
        base = await self._local_model(job.model_id)
        model_id = f"{base.id}:{job.suffix}:{job.id}"
        now = iso(self._clock())
        await self._models.upsert_model(
            ModelRecord(
                id=model_id,
                name=f"{base.name} ({job.suffix})",
                version=base.version,
                description=f"LoRA fine-tune of {base.id} by job {job.id}",
                parameters=dict(base.parameters),
                kind="fine_tuned",
                path=base.path,
                adapter_path=str(adapter_dir),
                base_model_id=base.id,
                created_at=now,
                updated_at=now,
            )
        )
        self._model_registered(model_id)
        return model_id

    def _model_registered(self, model_id: str) -> None:
        for listener in self.model_listeners:
            listener(model_id)

    # Files ------------------------------------------------------------------
    # Files and jobs belong to the user who created them: `owner` is stamped
    # on create (ownership.new_owner), `scope` filters what a caller sees
    # (ownership.owner_scope; None: everything). Outside scope is NOT_FOUND.
    async def upload_file(
        self, raw: bytes, content_type: str, filename: str = "", purpose: str = "", *, owner: str | None = None
    ) -> FileRecord:
        if content_type.split(";")[0].strip().lower() == "application/json":
            raw, json_filename, json_purpose = jsonl.parse_json_upload(raw)
            filename = filename or json_filename or ""
            purpose = purpose or json_purpose or ""
        if len(raw) > self.max_file_bytes:
            raise PayloadTooLarge(
                f"file is {len(raw)} bytes, more than the limit of {self.max_file_bytes} (ML_MAX_FILE_BYTES): split it"
            )
        purpose = purpose or "fine-tune"
        if purpose not in jsonl.PURPOSES:
            raise InvalidArgument(f"purpose must be one of {list(jsonl.PURPOSES)}, got {purpose!r}")
        filename = os.path.basename(filename or "upload.jsonl")[:255] or "upload.jsonl"
        validated = jsonl.validate_jsonl(raw)
        file_id = f"file-{secrets.token_hex(12)}"
        path = self.files_dir / f"{file_id}.jsonl"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(validated.content)
        os.replace(partial, path)
        record = FileRecord(
            id=file_id,
            filename=filename,
            purpose=purpose,
            bytes=len(validated.content),
            line_count=validated.line_count,
            format=validated.format,
            path=str(path),
            created_at=int(time.time()),
            owner_id=owner,
        )
        try:
            await self._files.add_file(record)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        log.info("ml.file.uploaded", file_id=file_id, lines=record.line_count, format=record.format)
        return record

    async def list_files(self, scope: str | None = None) -> list[FileRecord]:
        return await self._files.list_files(scope)

    async def get_file(self, file_id: str, scope: str | None = None) -> FileRecord:
        record = await self._files.get_file(file_id)
        not_found = NotFound(f"File {file_id!r} not found", code="FILE_NOT_FOUND")
        if record is None:
            raise not_found
        check_visible(record.owner_id, scope, not_found)
        return record

    async def delete_file(self, file_id: str, scope: str | None = None) -> None:
        record = await self.get_file(file_id, scope)
        users = await self._jobs.jobs_using_file(file_id, ("created", "queued", "running"))
        if users:
            raise Conflict(f"File {file_id!r} is used by unfinished job(s) {', '.join(users)}: cancel them first")
        await self._files.delete_file(file_id)
        pathlib.Path(record.path).unlink(missing_ok=True)

    # Jobs -------------------------------------------------------------------
    async def create_job(
        self,
        model_id: str,
        training_file: str,
        validation_file: str = "",
        suffix: str = "",
        compute_config: dict[str, Any] | None = None,
        hyperparameters: dict[str, Any] | None = None,
        *,
        owner: str | None = None,
        scope: str | None = None,
    ) -> JobRecord:
        """`scope`: the files the caller may train on (their own)."""
        if not registry.mlx_available():
            raise Unavailable("MLX is not available on this server (ml_client_available is false): cannot fine-tune")
        if not model_id:
            raise InvalidArgument("model_id is required")
        if not training_file:
            raise InvalidArgument("training_file is required: upload a JSONL file to /ml-api/files/ first")
        model = await self.get_model(model_id)
        if model.kind == REMOTE:
            raise InvalidArgument(f"model {model_id!r} is served by a remote provider; fine-tune a local MLX model")
        if model.kind != "mlx":
            raise InvalidArgument(f"model {model_id!r} is a fine-tuned model; fine-tune its base {model.base_model_id!r}")
        training = await self.get_file(training_file, scope)
        validation = await self.get_file(validation_file, scope) if validation_file else None
        suffix = suffix or "ft"
        job_options.check_suffix(suffix)
        config = job_options.compute_config(compute_config or {})
        hp = job_options.hyperparameters(hyperparameters or {})
        hp["batch_size"] = min(hp["batch_size"], training.line_count)
        if validation is not None and validation.line_count < hp["batch_size"]:
            raise InvalidArgument(
                f"validation file {validation.id} has {validation.line_count} examples, fewer than batch_size"
                f" {hp['batch_size']}: add examples or lower batch_size"
            )
        if validation is not None and validation.format != training.format:
            raise InvalidArgument(f"validation file format {validation.format!r} differs from training {training.format!r}")
        now = iso(self._clock())
        job = JobRecord(
            id=f"ft-{secrets.token_hex(6)}",
            model_id=model_id,
            status="created",
            created_at=now,
            updated_at=now,
            fine_tuned_model=None,
            training_file=training.id,
            validation_file=validation.id if validation else None,
            suffix=suffix,
            compute_config=config,
            hyperparameters=hp,
            metrics=None,
            error=None,
            last_sequence=1,
            owner_id=owner,
        )
        await self._jobs.add_job(job, JobEvent(job.id, 1, "status", now, "created", "created"))
        await self.runner.submit(job.id)
        log.info("ml.job.created", job_id=job.id, model_id=model_id)
        return job

    async def list_jobs(self, scope: str | None = None) -> list[JobRecord]:
        return await self._jobs.list_jobs(scope=scope)

    async def get_job(self, job_id: str, scope: str | None = None) -> JobRecord:
        job = await self._jobs.get_job(job_id)
        not_found = job_not_found(job_id)
        if job is None:
            raise not_found
        check_visible(job.owner_id, scope, not_found)
        return job

    async def cancel_job(self, job_id: str, scope: str | None = None) -> JobRecord:
        job = await self.get_job(job_id, scope)
        if job.status in FINAL_STATUSES:
            raise FailedPrecondition(
                f"Job {job_id} already {job.status}: only created, queued or running jobs can be cancelled",
                code="JOB_NOT_CANCELLABLE",
            )
        updated = await self.runner.update(
            job_id, {"status": "cancelled"}, event_type="status", message="cancelled",
            only_if_status=("created", "queued", "running"),
        )
        if updated is None:
            job = await self.get_job(job_id)
            raise FailedPrecondition(f"Job {job_id} already {job.status}", code="JOB_NOT_CANCELLABLE")
        await self.runner.cancel_running(job_id)
        log.info("ml.job.cancelled", job_id=job_id)
        return updated

    async def resume_job(self, job_id: str, scope: str | None = None) -> JobRecord:
        """Queues a cancelled job again; it continues from its last checkpoint."""
        job = await self.get_job(job_id, scope)
        resumed = await self.runner.resume(job_id) if job.status == "cancelled" else None
        if resumed is None:
            job = await self.get_job(job_id)
            raise FailedPrecondition(
                f"Job {job_id} is {job.status}: only a cancelled job can be resumed", code="JOB_NOT_RESUMABLE"
            )
        log.info("ml.job.resumed", job_id=job_id)
        return resumed

    async def watch_job(self, job_id: str, after_sequence: int = 0, scope: str | None = None) -> AsyncIterator[JobEvent]:
        """The job's events after `after_sequence`, then live ones, until the
        job reaches a final status."""
        await self.get_job(job_id, scope)
        subscription = self.events.subscribe(lambda event: event.job_id == job_id)
        try:
            last = after_sequence
            while True:
                for event in await self._jobs.list_job_events(job_id, last):
                    last = event.sequence
                    yield event
                    if event.type == "status" and event.status in FINAL_STATUSES:
                        return
                job = await self.get_job(job_id)
                if job.status in FINAL_STATUSES and job.last_sequence <= last:
                    return
                while True:
                    event = await subscription.get()
                    if event is None:
                        subscription.reset()
                        break  # overflowed: reread from storage
                    if event.sequence <= last:
                        continue
                    if event.sequence != last + 1:
                        break  # a gap: reread from storage
                    last = event.sequence
                    yield event
                    if event.type == "status" and event.status in FINAL_STATUSES:
                        return
        finally:
            subscription.close()
