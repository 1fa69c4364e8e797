"""Models, training files and fine-tuning jobs on PostgreSQL: the SQLite
adapters' SQL, except where SQLite's rowid orders files, and with the job's
row locked before its next event number is read and its event announced
to every process."""

from __future__ import annotations

from typing import Any

from agent_runtime.ml.models import FileRecord, JobEvent, JobLease, JobRecord
from agent_runtime.storage.postgres.channels import JOB_EVENTS, notify
from agent_runtime.storage.sqlite.ml import SqliteFileRepository, SqliteJobRepository, SqliteModelRepository, _file

_FILE_COLUMNS = "id, filename, purpose, bytes, line_count, format, path, created_at, owner_id"


class PostgresModelRepository(SqliteModelRepository):
    pass


class PostgresFileRepository(SqliteFileRepository):
    async def get_file(self, file_id: str) -> FileRecord | None:
        row = await self._db.fetch_one(f"SELECT {_FILE_COLUMNS} FROM ml_files WHERE id = ?", (file_id,))
        return _file(row) if row else None

    async def list_files(self, scope: str | None = None) -> list[FileRecord]:
        rows = await self._db.fetch_all(
            f"SELECT {_FILE_COLUMNS} FROM ml_files WHERE (? IS NULL OR owner_id = ?)"
            " ORDER BY created_at DESC, insert_order DESC",
            (scope, scope),
        )
        return [_file(r) for r in rows]


class PostgresJobRepository(SqliteJobRepository):
    # Claimers skip the jobs another claimer has locked.
    CHOICE_LOCK = " FOR UPDATE SKIP LOCKED"

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
        # Two processes updating one job read its last sequence one after
        # the other, never the same one. Its watchers on every process hear
        # of the event (relay.py).
        async with self._db.transaction() as tx:
            await tx.execute("SELECT 1 FROM ml_jobs WHERE id = ? FOR UPDATE", (job_id,))
            updated = await super().update_job(job_id, now, changes, event, only_if_status=only_if_status, lease=lease)
            if updated is not None and updated[1] is not None:
                await notify(tx, JOB_EVENTS, {"job_id": job_id, "sequence": updated[1].sequence})
        return updated
