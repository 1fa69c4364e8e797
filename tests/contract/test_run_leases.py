"""Contract of the run leases (agents/ports.py LeaseRepository and the
fence of agents.ports.run_lease): on every engine, a task is claimed by one
process at a time, an expired lease is claimable, renewals say which leases
were lost, and a write under a lease that moved on is refused."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from agent_runtime.agents.models import (
    ACTIVE_STATUSES,
    ANSWER,
    PAUSE,
    RESUME,
    RUNNABLE_STATUSES,
    ArtifactRecord,
    ClientCallRecord,
    LeaseLost,
    RunLease,
    TaskRecord,
)
from agent_runtime.agents.leases import RunLeases
from agent_runtime.agents.ports import run_lease
from agent_runtime.clock import iso, parse_iso
from agent_runtime.sessions.models import REFUSED, NewEvent, PendingAppend
from contract.test_agent_store import NOW, a_task, approval, opened  # noqa: F401 - the fixture these tests take

LATER = "2026-12-02T10:00:30.000Z"
MUCH_LATER = "2026-12-02T10:01:00.000Z"


async def claim(opened, owner: str, now: str = NOW, expires_at: str = LATER, limit: int = 10, exclude=(), per_user=None) -> list[RunLease]:
    return await opened.store.leases.claim_runnable(
        owner, now, expires_at, statuses=RUNNABLE_STATUSES, limit=limit, exclude=exclude, per_user=per_user
    )


async def test_a_runnable_task_is_claimed_once_and_each_claim_bumps_the_epoch(opened):
    await a_task(opened, "t1", status="accepted")
    await a_task(opened, "paused", status="waiting_approval")
    await a_task(opened, "done", status="completed")
    assert await claim(opened, "p1") == [RunLease("t1", "p1", 1)]
    assert await claim(opened, "p2") == []
    assert await opened.store.leases.claim_task("t1", "p2", NOW, LATER, statuses=ACTIVE_STATUSES) is None
    # Expired: claimable by anyone, with the next epoch.
    assert await claim(opened, "p2", now=MUCH_LATER, expires_at="2026-12-02T10:01:30.000Z") == [RunLease("t1", "p2", 2)]
    # Its holder claims it again (a release that may not have happened).
    assert await opened.store.leases.claim_task("t1", "p2", NOW, LATER, statuses=ACTIVE_STATUSES) == RunLease("t1", "p2", 3)
    # A paused task is claimed only by name (to end it), an ended one never.
    assert await opened.store.leases.claim_task("paused", "p3", NOW, LATER, statuses=ACTIVE_STATUSES) == RunLease("paused", "p3", 1)
    assert await opened.store.leases.claim_task("done", "p3", NOW, LATER, statuses=ACTIVE_STATUSES) is None


async def test_claimers_at_once_never_get_the_same_task(opened):
    for n in range(12):
        await a_task(opened, f"t{n:02}", status="queued")
    claims = await asyncio.gather(*(claim(opened, f"p{n}", limit=3) for n in range(6)))
    claimed = [lease.task_id for leases in claims for lease in leases]
    assert sorted(claimed) == [f"t{n:02}" for n in range(12)]


async def test_claims_leave_out_what_the_claimer_runs_already_and_stop_at_the_limit(opened):
    for n in range(3):
        await a_task(opened, f"t{n}", status="running")
    assert [lease.task_id for lease in await claim(opened, "p1", limit=1, exclude=("t0",))] == ["t1"]
    assert await claim(opened, "p1", limit=0) == []


async def a_users_task(opened, task_id: str, owner: str, created_at: str) -> None:
    await opened.add_session("s1")
    await opened.store.tasks.create_task(TaskRecord(task_id, "s1", owner, "do it", "/tmp", "queued", 5, created_at, created_at), [])


async def test_claims_share_out_by_user_oldest_first_and_up_to_the_users_cap(opened):
    # Alice queued ten tasks before Bob queued his one.
    for n in range(10):
        await a_users_task(opened, f"alice-{n}", "alice", f"2026-12-02T09:00:{n:02}.000Z")
    await a_users_task(opened, "bob-0", "bob", "2026-12-02T09:30:00.000Z")
    first = await claim(opened, "p1", limit=2, per_user=3)
    assert sorted(lease.task_id for lease in first) == ["alice-0", "bob-0"]
    # p1 holds one of Alice's: two more reach her cap of three.
    second = await claim(opened, "p1", limit=5, per_user=3)
    assert [lease.task_id for lease in second] == ["alice-1", "alice-2"]
    # Another process's claims count its own holdings only.
    assert [lease.task_id for lease in await claim(opened, "p2", limit=1, per_user=3)] == ["alice-3"]


async def test_renewal_says_which_leases_are_still_held_and_release_frees_them(opened):
    leases = opened.store.leases
    await a_task(opened, "t1", status="running")
    await a_task(opened, "t2", status="running")
    first, second = await claim(opened, "p1")
    assert sorted(await leases.renew("p1", ("t1", "t2"), MUCH_LATER), key=lambda lease: lease.task_id) == [first, second]
    # t2's lease expired before a renewal and another process took it.
    assert await leases.claim_task("t2", "p2", "2026-12-02T10:02:00.000Z", "2026-12-02T10:03:00.000Z", statuses=ACTIVE_STATUSES)
    assert await leases.renew("p1", ("t1", "t2"), "2026-12-02T10:04:00.000Z") == [first]
    # Only the leases named are renewed.
    assert await leases.renew("p1", ("t2",), "2026-12-02T10:04:00.000Z") == []
    assert not await leases.release(second)
    assert await leases.release(first)
    assert await claim(opened, "p3") == [RunLease("t1", "p3", 2)]
    assert await leases.release_all("p3") == 1 and await leases.release_all("p2") == 1


async def test_a_renewal_says_which_runs_were_asked_to_stop(opened):
    await a_task(opened, "t1", status="running")
    await a_task(opened, "t2", status="running")
    await claim(opened, "p1")
    await opened.store.tasks.update_task("t2", {"stop_requested": True})
    renewed = await opened.store.leases.renew("p1", ("t1", "t2"), MUCH_LATER)
    assert sorted((lease.task_id, lease.stop_requested) for lease in renewed) == [("t1", False), ("t2", True)]


async def test_a_write_under_a_lease_that_moved_on_is_refused(opened):
    store = opened.store
    await a_task(opened, "t1", status="running")
    [old] = await claim(opened, "p1")
    token = run_lease.set(old)
    try:
        assert await store.tasks.append_event("t1", "status", {"n": 1}, NOW)
        assert await store.tasks.update_task("t1", {"iterations": 1})
        await store.leases.claim_task("t1", "p2", MUCH_LATER, "2026-12-02T10:02:00.000Z", statuses=ACTIVE_STATUSES)
        refused = [
            store.tasks.append_event("t1", "status", {"n": 2}, NOW),
            store.tasks.update_task("t1", {"iterations": 2}),
            store.tasks.update_task("t1", {"status": "completed"}, only_if_status=("running",)),
            store.tasks.append_messages("t1", [{"role": "user", "content": "late"}]),
            store.tasks.take_inputs("t1"),
            store.approvals.create_approval(approval("t1"), PAUSE, NOW),
            store.client_calls.create_client_call(ClientCallRecord("t1", "c1", "flutter", {}, "pending", NOW), PAUSE, NOW),
            store.artifacts.put_artifact(ArtifactRecord("art", "t1", "diff.patch", "diff", "text/x-diff", 1, NOW, b"x")),
        ]
        for write in refused:
            with pytest.raises(LeaseLost):
                await write
    finally:
        run_lease.reset(token)
    task = await store.tasks.get_task("t1")
    assert (task.iterations, task.status, task.last_event_sequence) == (1, "running", 1)
    assert await store.tasks.list_messages("t1") == []
    assert await store.approvals.list_approvals("t1") == [] and await store.artifacts.list_artifacts("t1") == []
    # Writes with no lease set (a client's) and writes of other tasks pass.
    assert await store.tasks.append_event("t1", "status", {"n": 3}, NOW)


async def test_leases_are_timed_by_the_databases_clock_not_the_machines(opened):
    """RunLeases reads no machine clock: a lease's expiry is the database's
    time plus the lease, so processes on machines whose clocks differ
    compare expiries on one clock (no NTP needed)."""
    store = opened.store
    await a_task(opened, "t1", status="accepted")
    await a_task(opened, "t2", status="accepted")
    before = await store.leases.database_time()
    [held] = await RunLeases(store.leases, seconds=600, per_user=2, owner="p1").claim_runnable(1, ())
    # A claimer at the database's time now does not take a live lease...
    now = iso(await store.leases.database_time())
    [other] = await store.leases.claim_runnable("p2", now, iso(parse_iso(now) + dt.timedelta(seconds=60)), statuses=RUNNABLE_STATUSES, limit=2)
    assert other.task_id != held.task_id
    # ...and one at the database's time after the lease's 600 s does.
    after = iso(before + dt.timedelta(seconds=601))
    assert await store.leases.claim_task(held.task_id, "p3", after, after, statuses=ACTIVE_STATUSES) == RunLease(held.task_id, "p3", 2)


async def test_a_session_log_copy_under_a_lease_that_moved_on_is_refused(opened, stores):
    await a_task(opened, "t1", status="running")
    [old] = await claim(opened, "p1")

    def step(n: int) -> PendingAppend:
        event = NewEvent(event_type="pre_tool", timestamp=NOW, body={"n": n, "payload": {"task_id": "t1"}})
        return PendingAppend("s1", event, guard=opened.store.tasks.lease_guard("t1"))

    token = run_lease.set(old)
    try:
        [copied] = await stores.sessions.append_events([step(1)], NOW)
        await opened.store.leases.claim_task("t1", "p2", MUCH_LATER, "2026-12-02T10:02:00.000Z", statuses=ACTIVE_STATUSES)
        # In one batch with another writer's append, which still commits.
        stray, other = await stores.sessions.append_events([step(2), PendingAppend("s1", NewEvent("message", NOW, body={"n": 3}))], NOW)
    finally:
        run_lease.reset(token)
    assert stray is REFUSED and other is not None
    logged = await stores.sessions.list_events("s1", 0, 0)
    assert [event.body["n"] for event in logged] == [1, 3] and logged[0].event_id == copied.event.event_id
    # With no lease set (a client's append) there is nothing to fence.
    assert opened.store.tasks.lease_guard("t1") is None


async def test_a_decision_or_an_answer_makes_its_paused_task_runnable_in_the_same_write(opened):
    store = opened.store
    await a_task(opened, "t1", status="running")
    await a_task(opened, "t2", status="running")
    stored, _ = await store.approvals.create_approval(approval("t1"), PAUSE, NOW)
    await store.client_calls.create_client_call(ClientCallRecord("t2", "c1", "flutter", {}, "pending", NOW), PAUSE, NOW)
    assert await claim(opened, "p1") == []
    await store.approvals.resolve_approval(stored.approval_id, {"status": "approved", "resolved_at": NOW}, only_if_status="pending", resume=RESUME)
    assert await store.client_calls.answer_client_call("t2", "c1", "ok", False, NOW, transition=ANSWER, resume=RESUME)
    assert [(await store.tasks.get_task(t)).status for t in ("t1", "t2")] == ["queued", "queued"]
    assert sorted(lease.task_id for lease in await claim(opened, "p1")) == ["t1", "t2"]


async def test_overdue_pauses_are_found_whoever_waits_for_them(opened):
    store = opened.store
    await a_task(opened, "t1", status="running")
    await a_task(opened, "t2", status="running")
    soon = dataclasses.replace(approval("t1"), expires_at=LATER)
    await store.approvals.create_approval(soon, PAUSE, NOW)
    await store.approvals.create_approval(approval("t1", "call-2"), PAUSE, NOW)  # no expiry
    await store.client_calls.create_client_call(ClientCallRecord("t2", "c1", "flutter", {}, "pending", NOW), PAUSE, NOW)
    assert await store.approvals.overdue_approvals(NOW) == []
    assert [a.call_id for a in await store.approvals.overdue_approvals(MUCH_LATER)] == ["call-1"]
    assert await store.client_calls.pending_client_calls(NOW) == []
    assert [c.call_id for c in await store.client_calls.pending_client_calls(LATER)] == ["c1"]
    await store.client_calls.answer_client_call("t2", "c1", "ok", False, NOW, transition=ANSWER)
    assert await store.client_calls.pending_client_calls(LATER) == []
