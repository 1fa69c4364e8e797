"""The ML domain's ports (ml/ports.py) on SQLite: models, files, and
fine-tuning jobs with their events."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from agent_runtime.ml.models import FileRecord, JobEvent, JobLease, JobRecord, ModelRecord
from agent_runtime.storage.sqlite.database import Database


def _model(row) -> ModelRecord:
    values = {key: row[key] for key in row.keys()}
    values["parameters"] = json.loads(values["parameters"])
    return ModelRecord(**values)


def _file(row) -> FileRecord:
    return FileRecord(**{key: row[key] for key in row.keys()})


_JOB_FIELDS = [field.name for field in dataclasses.fields(JobRecord)]


def _job(row) -> JobRecord:
    values = {key: row[key] for key in _JOB_FIELDS}
    for key in ("compute_config", "hyperparameters"):
        values[key] = json.loads(values[key])
    values["metrics"] = json.loads(values["metrics"]) if values["metrics"] else None
    return JobRecord(**values)


def _event(row) -> JobEvent:
    values = {key: row[key] for key in row.keys()}
    values["metrics"] = json.loads(values["metrics"]) if values["metrics"] else None
    return JobEvent(**values)


_MODEL_COLUMNS = (
    "id", "name", "version", "description", "parameters", "kind", "path", "adapter_path", "base_model_id",
    "created_at", "updated_at",
)
_JOB_COLUMNS = (
    "id", "model_id", "status", "created_at", "updated_at", "fine_tuned_model", "training_file",
    "validation_file", "suffix", "compute_config", "hyperparameters", "metrics", "error", "last_sequence", "owner_id",
)


def _model_values(model: ModelRecord) -> tuple:
    return tuple(
        json.dumps(model.parameters) if name == "parameters" else getattr(model, name) for name in _MODEL_COLUMNS
    )


class SqliteModelRepository:
    def __init__(self, database: Database):
        self._db = database

    async def add_model(self, model: ModelRecord) -> bool:
        # The primary key decides, so two processes adding one id at once
        # get one True and one False.
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                f"INSERT INTO ml_models ({', '.join(_MODEL_COLUMNS)}) VALUES ({', '.join('?' * len(_MODEL_COLUMNS))})"
                " ON CONFLICT (id) DO NOTHING",
                _model_values(model),
            )
            return cursor.rowcount > 0

    async def upsert_model(self, model: ModelRecord) -> None:
        updates = ", ".join(f"{c} = excluded.{c}" for c in _MODEL_COLUMNS if c not in ("id", "created_at"))
        async with self._db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO ml_models ({', '.join(_MODEL_COLUMNS)}) VALUES ({', '.join('?' * len(_MODEL_COLUMNS))})"
                f" ON CONFLICT (id) DO UPDATE SET {updates}",
                _model_values(model),
            )

    async def get_model(self, model_id: str) -> ModelRecord | None:
        row = await self._db.fetch_one("SELECT * FROM ml_models WHERE id = ?", (model_id,))
        return _model(row) if row else None

    async def list_models(self) -> list[ModelRecord]:
        return [_model(r) for r in await self._db.fetch_all("SELECT * FROM ml_models ORDER BY created_at, id")]


class SqliteFileRepository:
    def __init__(self, database: Database):
        self._db = database

    async def add_file(self, record: FileRecord) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO ml_files (id, filename, purpose, bytes, line_count, format, path, created_at, owner_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.filename, record.purpose, record.bytes, record.line_count, record.format,
                 record.path, record.created_at, record.owner_id),
            )

    async def get_file(self, file_id: str) -> FileRecord | None:
        row = await self._db.fetch_one("SELECT * FROM ml_files WHERE id = ?", (file_id,))
        return _file(row) if row else None

    async def list_files(self, scope: str | None = None) -> list[FileRecord]:
        rows = await self._db.fetch_all(
            "SELECT * FROM ml_files WHERE (? IS NULL OR owner_id = ?) ORDER BY created_at DESC, rowid DESC",
            (scope, scope),
        )
        return [_file(r) for r in rows]

    async def delete_file(self, file_id: str) -> bool:
        async with self._db.transaction() as tx:
            cursor = await tx.execute("DELETE FROM ml_files WHERE id = ?", (file_id,))
            return cursor.rowcount > 0


# Claimable jobs: waiting or left running, of the claimer's data dir (or of
# none: jobs from before data dirs were recorded), their lease free or expired.
_CLAIMABLE = (
    "status IN ('queued', 'running') AND (data_dir_id = ? OR data_dir_id IS NULL)"
    " AND (lease_owner IS NULL OR lease_expires_at < ?)"
)


class SqliteJobRepository:
    # What the choice of jobs to claim adds to lock them (PostgreSQL's).
    CHOICE_LOCK = ""

    def __init__(self, database: Database):
        self._db = database

    async def add_job(self, job: JobRecord, event: JobEvent) -> None:
        values = []
        for name in _JOB_COLUMNS:
            value = getattr(job, name)
            if name in ("compute_config", "hyperparameters") or (name == "metrics" and value is not None):
                value = json.dumps(value)
            values.append(value)
        async with self._db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO ml_jobs ({', '.join(_JOB_COLUMNS)}) VALUES ({', '.join('?' * len(_JOB_COLUMNS))})",
                tuple(values),
            )
            await self._insert_event(tx, event)

    @staticmethod
    async def _insert_event(tx, event: JobEvent) -> None:
        await tx.execute(
            "INSERT INTO ml_job_events (job_id, sequence, type, created_at, message, status, metrics, step)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (event.job_id, event.sequence, event.type, event.created_at, event.message, event.status,
             json.dumps(event.metrics) if event.metrics is not None else None, event.step),
        )

    async def get_job(self, job_id: str) -> JobRecord | None:
        row = await self._db.fetch_one("SELECT * FROM ml_jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None

    async def list_jobs(self, statuses: tuple[str, ...] = (), scope: str | None = None) -> list[JobRecord]:
        if statuses:
            rows = await self._db.fetch_all(
                f"SELECT * FROM ml_jobs WHERE status IN ({', '.join('?' * len(statuses))})"
                " AND (? IS NULL OR owner_id = ?) ORDER BY created_at, id",
                (*statuses, scope, scope),
            )
        else:
            rows = await self._db.fetch_all(
                "SELECT * FROM ml_jobs WHERE (? IS NULL OR owner_id = ?) ORDER BY created_at DESC, id DESC",
                (scope, scope),
            )
        return [_job(r) for r in rows]

    async def claim_jobs(self, owner: str, data_dir_id: str, now: str, expires_at: str, limit: int) -> list[JobLease]:
        if limit <= 0:
            return []
        async with self._db.transaction() as tx:
            # The choice is made once (a materialized CTE), before the UPDATE.
            cursor = await tx.execute(
                f"WITH chosen AS MATERIALIZED (SELECT id FROM ml_jobs WHERE {_CLAIMABLE}"
                f" ORDER BY created_at, id LIMIT ?{self.CHOICE_LOCK})"
                " UPDATE ml_jobs SET lease_owner = ?, lease_epoch = lease_epoch + 1, lease_expires_at = ?"
                f" WHERE id IN (SELECT id FROM chosen) AND {_CLAIMABLE} RETURNING id, lease_epoch",
                (data_dir_id, now, limit, owner, expires_at, data_dir_id, now),
            )
            rows = await cursor.fetchall()
        return [JobLease(row["id"], owner, row["lease_epoch"]) for row in rows]

    async def renew_job_leases(self, owner: str, job_ids: tuple[str, ...], expires_at: str) -> list[JobLease]:
        if not job_ids:
            return []
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                f"UPDATE ml_jobs SET lease_expires_at = ? WHERE lease_owner = ? AND status IN ('queued', 'running')"
                f" AND id IN ({', '.join('?' * len(job_ids))}) RETURNING id, lease_epoch",
                (expires_at, owner, *job_ids),
            )
            rows = await cursor.fetchall()
        return [JobLease(row["id"], owner, row["lease_epoch"]) for row in rows]

    async def release_job_lease(self, lease: JobLease) -> bool:
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE ml_jobs SET lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = ? AND lease_owner = ? AND lease_epoch = ?",
                (lease.job_id, lease.owner, lease.epoch),
            )
            return cursor.rowcount > 0

    async def release_job_leases(self, owner: str) -> int:
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE ml_jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = ?", (owner,)
            )
            return cursor.rowcount

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
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "SELECT status, last_sequence, lease_owner, lease_epoch FROM ml_jobs WHERE id = ?", (job_id,)
            )
            if row is None or (only_if_status and row["status"] not in only_if_status):
                return None
            if lease is not None and (row["lease_owner"], row["lease_epoch"]) != (lease.owner, lease.epoch):
                return None
            assignments = dict(changes)
            if "metrics" in assignments and assignments["metrics"] is not None:
                assignments["metrics"] = json.dumps(assignments["metrics"])
            assignments["updated_at"] = now
            stored_event = None
            if event is not None:
                sequence = row["last_sequence"] + 1
                stored_event = JobEvent(**{**event.__dict__, "sequence": sequence, "job_id": job_id})
                assignments["last_sequence"] = sequence
                await self._insert_event(tx, stored_event)
            await tx.execute(
                f"UPDATE ml_jobs SET {', '.join(f'{k} = ?' for k in assignments)} WHERE id = ?",
                (*assignments.values(), job_id),
            )
            updated = await tx.fetch_one("SELECT * FROM ml_jobs WHERE id = ?", (job_id,))
        return _job(updated), stored_event

    async def list_job_events(self, job_id: str, after_sequence: int) -> list[JobEvent]:
        rows = await self._db.fetch_all(
            "SELECT * FROM ml_job_events WHERE job_id = ? AND sequence > ? ORDER BY sequence", (job_id, after_sequence)
        )
        return [_event(r) for r in rows]

    async def jobs_using_file(self, file_id: str, statuses: tuple[str, ...]) -> list[str]:
        rows = await self._db.fetch_all(
            f"SELECT id FROM ml_jobs WHERE (training_file = ? OR validation_file = ?)"
            f" AND status IN ({', '.join('?' * len(statuses))})",
            (file_id, file_id, *statuses),
        )
        return [r["id"] for r in rows]
