"""The ML domain's storage ports, one per concern: the model registry,
training files, and fine-tuning jobs with their event logs. Adapters
(storage/<engine>/ml.py) implement them and pass the repository contract
suite (tests/contract/)."""

from __future__ import annotations

from typing import Any, Protocol

from agent_runtime.ml.models import FileRecord, JobEvent, JobLease, JobRecord, ModelRecord


class ModelRepository(Protocol):
    async def add_model(self, model: ModelRecord) -> bool:
        """Stores a new model; False (nothing stored) when its id is taken."""
        ...

    async def upsert_model(self, model: ModelRecord) -> None:
        """Inserts the model, or updates everything but created_at."""
        ...

    async def get_model(self, model_id: str) -> ModelRecord | None: ...

    async def list_models(self) -> list[ModelRecord]:
        """In order of creation."""
        ...


class FileRepository(Protocol):
    async def add_file(self, record: FileRecord) -> None: ...

    async def get_file(self, file_id: str) -> FileRecord | None: ...

    async def list_files(self, scope: str | None = None) -> list[FileRecord]:
        """Newest first; all files, or only those owned by `scope`
        (ownership.owner_scope)."""
        ...

    async def delete_file(self, file_id: str) -> bool:
        """False when there was no such file."""
        ...


class JobRepository(Protocol):
    async def add_job(self, job: JobRecord, event: JobEvent) -> None:
        """Stores a new job with its first event, in one transaction."""
        ...

    async def get_job(self, job_id: str) -> JobRecord | None: ...

    async def list_jobs(self, statuses: tuple[str, ...] = (), scope: str | None = None) -> list[JobRecord]:
        """Jobs in `statuses` oldest first, or (no statuses) every job newest
        first; only those owned by `scope` when given."""
        ...

    async def claim_jobs(self, owner: str, data_dir_id: str, now: str, expires_at: str, limit: int) -> list[JobLease]:
        """Claims up to `limit` queued or running jobs of that data dir,
        oldest first, whose lease is free or expired (before `now`); each
        claim bumps the job's epoch. Two claimers never get the same job."""
        ...

    async def renew_job_leases(self, owner: str, job_ids: tuple[str, ...], expires_at: str) -> list[JobLease]:
        """Extends the leases of the queued or running `job_ids` that `owner` still
        holds; those renewed (one missing was lost, or its job cancelled)."""
        ...

    async def release_job_lease(self, lease: JobLease) -> bool:
        """Gives a lease up, only while it is still this one."""
        ...

    async def release_job_leases(self, owner: str) -> int:
        """Gives up every lease of `owner` (a process known to be gone)."""
        ...

    async def update_job(
        self,
        job_id: str,
        now: str,
        changes: dict[str, Any],
        event: JobEvent | None,
        *,
        only_if_status: tuple[str, ...] = (),
        lease: JobLease | None = None,
    ) -> tuple[JobRecord, JobEvent | None] | None:
        """Applies `changes` (and updated_at = now) and appends `event`, its
        sequence the job's next, in one transaction; the job and the stored
        event. None (nothing changes) when the job is missing, its status
        is not in `only_if_status`, or `lease` is no longer the job's (the
        fence of a process that lost it)."""
        ...

    async def list_job_events(self, job_id: str, after_sequence: int) -> list[JobEvent]:
        """The job's events after that sequence, in order."""
        ...

    async def jobs_using_file(self, file_id: str, statuses: tuple[str, ...]) -> list[str]:
        """Ids of the jobs in `statuses` that train or validate on the file."""
        ...
