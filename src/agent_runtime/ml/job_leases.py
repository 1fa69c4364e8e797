"""This process's fine-tuning job leases (ARCHITECTURE.md, "Runs that
move"; the same lease queue as agent runs): a process with a free job slot
claims queued jobs and jobs whose lease expired, of its own data dir only
(a job's files are there); it renews its leases while the jobs train and
releases them when they end or the process stops. Each claim bumps the
job's epoch and every write of a job's progress is fenced by it, so a
process that lost a lease writes nothing."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import secrets

import structlog

from agent_runtime.clock import Clock, iso
from agent_runtime.lifecycle import replace_owner_name
from agent_runtime.ml.models import JobLease
from agent_runtime.ml.ports import JobRepository

log = structlog.get_logger(__name__)

DATA_DIR_ID_FILE = "data-dir-id"


def data_dir_id(data_dir: pathlib.Path) -> str:
    """The data dir's identity: a random id written into it once, so the
    workers sharing a data dir (or machines sharing it on a mount) have the
    same one."""
    path = data_dir / DATA_DIR_ID_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        candidate = data_dir / f".{DATA_DIR_ID_FILE}.{secrets.token_hex(4)}"
        candidate.write_text(secrets.token_hex(16))
        try:
            os.link(candidate, path)  # the first process to write it wins
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    return path.read_text().strip()


class JobLeases:
    def __init__(self, repository: JobRepository, *, owner: str, data_dir_id: str, seconds: float, clock: Clock):
        self._repository = repository
        self.owner = owner
        self.data_dir_id = data_dir_id
        self._seconds = seconds
        self._clock = clock
        self._held: dict[str, JobLease] = {}
        self._renewed_at = clock()

    @property
    def renew_every(self) -> float:
        return self._seconds / 3

    async def take_over(self, owner_file: pathlib.Path) -> None:
        """Frees the job leases of this data dir's (or worker's) previous
        process, named in `owner_file`: its lock proves that process is
        gone, so its jobs resume at once instead of after their leases
        expire; names this process there."""
        previous = replace_owner_name(owner_file, self.owner)
        if previous:
            freed = await self._repository.release_job_leases(previous)
            if freed:
                log.info("ml.job_leases_taken_over", previous=previous, jobs=freed)

    async def claim(self, limit: int) -> list[JobLease]:
        now = self._clock()
        leases = await self._repository.claim_jobs(self.owner, self.data_dir_id, iso(now), self._expiry(now), limit)
        self._held.update((lease.job_id, lease) for lease in leases)
        return leases

    async def renew(self) -> list[str]:
        """Extends this process's leases; the ids of the jobs whose lease
        was lost (another process claimed it) or that were cancelled."""
        held, now = tuple(self._held), self._clock()
        renewed = {lease.job_id for lease in await self._repository.renew_job_leases(self.owner, held, self._expiry(now))}
        self._renewed_at = now
        return [job_id for job_id in held if job_id not in renewed and self._held.pop(job_id, None) is not None]

    def lapsed(self) -> list[str]:
        """When no renewal succeeded for a whole lease (the database out of
        reach: a partition), every lease held may be another process's by
        now: their ids, forgotten. Their workers must stop, or two would
        train one job into the same checkpoints."""
        if self._clock() - self._renewed_at < dt.timedelta(seconds=self._seconds):
            return []
        lapsed, self._held = list(self._held), {}
        return lapsed

    async def release(self, lease: JobLease) -> None:
        if self._held.pop(lease.job_id, None) is not None:
            await self._repository.release_job_lease(lease)

    def _expiry(self, now: dt.datetime) -> str:
        return iso(now + dt.timedelta(seconds=self._seconds))
