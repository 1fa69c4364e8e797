"""Contract of the fine-tuning job leases (ml/ports.py JobRepository's
claims and the fence of update_job): on every engine, a job is claimed by
one process at a time and only by a process with its data dir, an expired
lease is claimable, renewals say which leases were lost, and a write under
a lease that moved on is refused."""

from __future__ import annotations

import asyncio

from agent_runtime.ml.models import JobEvent, JobLease
from contract.test_ml_repositories import created, job

NOW = "2026-01-01T00:00:10.000Z"
LATER = "2026-01-01T00:00:40.000Z"
MUCH_LATER = "2026-01-01T00:01:00.000Z"
EVEN_LATER = "2026-01-01T00:01:30.000Z"


async def a_job(stores, job_id: str, status: str = "queued", data_dir: str | None = "dir-a", created_at: str = NOW) -> None:
    await stores.jobs.add_job(job(job_id, status, created_at), created(job_id))
    await stores.jobs.update_job(job_id, NOW, {"data_dir_id": data_dir}, None)


async def claim(stores, owner: str, now: str = NOW, expires_at: str = LATER, limit: int = 10, data_dir: str = "dir-a"):
    return await stores.jobs.claim_jobs(owner, data_dir, now, expires_at, limit)


def progress(job_id: str) -> JobEvent:
    return JobEvent(job_id, 0, "metrics", NOW, "step 1", "running", {"step": 1.0}, 1)


async def test_a_job_is_claimed_once_by_its_data_dir_and_each_claim_bumps_the_epoch(stores):
    await a_job(stores, "older", created_at="2026-01-01T00:00:01.000Z")
    await a_job(stores, "left-running", "running", created_at="2026-01-01T00:00:02.000Z")
    await a_job(stores, "elsewhere", data_dir="dir-b")
    await a_job(stores, "created", "created", data_dir=None)
    await a_job(stores, "done", "succeeded")
    assert await claim(stores, "p1", limit=1) == [JobLease("older", "p1", 1)]
    assert await claim(stores, "p1") == [JobLease("left-running", "p1", 1)]
    assert await claim(stores, "p2") == []
    assert await claim(stores, "p3", data_dir="dir-b") == [JobLease("elsewhere", "p3", 1)]
    # Expired: claimable by another process of the data dir, with the next epoch.
    assert await claim(stores, "p2", now=MUCH_LATER, expires_at=EVEN_LATER) == [
        JobLease("older", "p2", 2), JobLease("left-running", "p2", 2)
    ]


async def test_claimers_at_once_never_get_the_same_job(stores):
    for n in range(12):
        await a_job(stores, f"j{n:02}")
    claims = await asyncio.gather(*(claim(stores, f"p{n}", limit=3) for n in range(6)))
    claimed = [lease.job_id for leases in claims for lease in leases]
    assert sorted(claimed) == [f"j{n:02}" for n in range(12)]


async def test_renewals_keep_held_leases_and_name_the_lost_and_cancelled_ones(stores):
    for job_id in ("kept", "taken", "cancelled"):
        await a_job(stores, job_id)
    await claim(stores, "p1")
    await stores.jobs.update_job("cancelled", NOW, {"status": "cancelled"}, None)
    # "taken" expires and moves to p2 before p1 renews.
    await stores.jobs.update_job("taken", NOW, {"lease_expires_at": NOW}, None)
    assert await claim(stores, "p2", now=LATER, expires_at=EVEN_LATER) == [JobLease("taken", "p2", 2)]
    renewed = await stores.jobs.renew_job_leases("p1", ("kept", "taken", "cancelled"), EVEN_LATER)
    assert renewed == [JobLease("kept", "p1", 1)]
    # Renewed until EVEN_LATER: not claimable at MUCH_LATER.
    assert await claim(stores, "p3", now=MUCH_LATER) == []


async def test_a_write_under_a_lease_that_moved_on_is_refused(stores):
    await a_job(stores, "j")
    [first] = await claim(stores, "p1")
    assert await stores.jobs.update_job("j", NOW, {"status": "running"}, None, lease=first) is not None
    [second] = await claim(stores, "p2", now=MUCH_LATER, expires_at=EVEN_LATER)
    assert await stores.jobs.update_job("j", NOW, {"metrics": {"step": 1.0}}, progress("j"), lease=first) is None
    assert await stores.jobs.list_job_events("j", 1) == []
    updated = await stores.jobs.update_job("j", NOW, {"metrics": {"step": 1.0}}, progress("j"), lease=second)
    assert updated is not None and updated[0].metrics == {"step": 1.0} and updated[1].sequence == 2


async def test_a_released_lease_is_claimable_at_once_and_a_stale_release_frees_nothing(stores):
    await a_job(stores, "j")
    await a_job(stores, "k")
    [first, other] = await claim(stores, "p1")
    assert await stores.jobs.release_job_lease(first) is True
    [second] = await claim(stores, "p2")
    assert second == JobLease("j", "p2", 2)
    assert await stores.jobs.release_job_lease(first) is False
    assert await claim(stores, "p3") == []
    # A process known to be gone (its data dir lock is free) gives up all of its leases.
    assert await stores.jobs.release_job_leases("p1") == 1
    assert await claim(stores, "p3") == [JobLease(other.job_id, "p3", 2)]
