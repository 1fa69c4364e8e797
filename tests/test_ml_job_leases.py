"""A process's fine-tuning job leases (ml/job_leases.py) on real SQLite,
without a server: the data dir's identity, and leases that lapse when the
database is out of reach for a whole lease."""

from __future__ import annotations

import datetime as dt

from agent_runtime.ml.job_leases import JobLeases, data_dir_id
from agent_runtime.ml.models import JobEvent, JobRecord
from agent_runtime.storage.sqlite.database import Database
from agent_runtime.storage.sqlite.ml import SqliteJobRepository

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
NOW = "2026-01-01T00:00:00.000Z"


def test_a_data_dir_keeps_one_id_that_another_data_dir_does_not_share(tmp_path):
    first = data_dir_id(tmp_path / "a")
    assert first and data_dir_id(tmp_path / "a") == first
    assert data_dir_id(tmp_path / "b") != first
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["data-dir-id"]


async def test_leases_lapse_when_no_renewal_succeeded_for_a_whole_lease(tmp_path):
    now = [START]
    database = await Database.open(tmp_path / "leases.sqlite3")
    jobs = SqliteJobRepository(database)
    job = JobRecord(
        id="j", model_id="base", status="created", created_at=NOW, updated_at=NOW, fine_tuned_model=None,
        training_file="train", validation_file=None, suffix="s", compute_config={}, hyperparameters={},
        metrics=None, error=None, last_sequence=1, owner_id=None,
    )
    await jobs.add_job(job, JobEvent("j", 1, "status", NOW, "created", "created"))
    await jobs.update_job("j", NOW, {"status": "queued", "data_dir_id": "here"}, None)
    leases = JobLeases(jobs, owner="p1", data_dir_id="here", seconds=30, clock=lambda: now[0])
    assert [lease.job_id for lease in await leases.claim(1)] == ["j"]
    now[0] = START + dt.timedelta(seconds=20)
    assert await leases.renew() == []
    await database.close()  # the database out of reach: renewals fail
    now[0] = START + dt.timedelta(seconds=49)
    assert leases.lapsed() == []
    now[0] = START + dt.timedelta(seconds=50)
    assert leases.lapsed() == ["j"]
    assert leases.lapsed() == []
