"""This process's run leases (ARCHITECTURE.md, "Runs that move"): a
process claims a task before it runs it, renews its leases while it works,
and releases them when the run pauses, ends or the process stops. Each claim
bumps the task's epoch, and the agent store fences every write of a run by
it (agents.ports.run_lease), so a process that lost a lease cannot write."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import secrets
import socket

import structlog

from agent_runtime.agents.models import ACTIVE_STATUSES, RUNNABLE_STATUSES, RunLease
from agent_runtime.agents.ports import LeaseRepository
from agent_runtime.clock import iso
from agent_runtime.lifecycle import replace_owner_name

log = structlog.get_logger(__name__)


def instance_id() -> str:
    """This process's name as a lease owner: unique across machines and
    restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class RunLeases:
    def __init__(self, repository: LeaseRepository, *, seconds: float, per_user: int, owner: str | None = None):
        self._repository = repository
        # Claims take at most this many runs of one user (its run slots).
        self._per_user = per_user
        self._seconds = seconds
        self.owner = owner or instance_id()
        self._held: dict[str, RunLease] = {}

    @property
    def renew_every(self) -> float:
        return self._seconds / 3

    def held(self, task_id: str) -> RunLease | None:
        return self._held.get(task_id)

    async def take_over(self, owner_file: pathlib.Path) -> None:
        """Frees the leases of this data dir's previous process, whose
        instance id `owner_file` names: the data dir's lock proves that
        process is gone, so its runs resume at once instead of after their
        leases expire. It names this process there."""
        previous = replace_owner_name(owner_file, self.owner)
        if previous:
            freed = await self._repository.release_all(previous)
            if freed:
                log.info("agent.leases_taken_over", previous=previous, runs=freed)

    async def claim_runnable(self, limit: int, exclude: tuple[str, ...]) -> list[RunLease]:
        now, expires_at = await self._times()
        leases = await self._repository.claim_runnable(
            self.owner, now, expires_at, statuses=RUNNABLE_STATUSES, limit=limit, exclude=exclude, per_user=self._per_user
        )
        self._held.update((lease.task_id, lease) for lease in leases)
        return leases

    async def claim(self, task_id: str) -> RunLease | None:
        """Claims one active task, paused or not (to run, resume or end
        it); None while another process holds it or it ended."""
        now, expires_at = await self._times()
        lease = await self._repository.claim_task(task_id, self.owner, now, expires_at, statuses=ACTIVE_STATUSES)
        if lease is not None:
            self._held[task_id] = lease
        return lease

    async def release(self, task_id: str) -> bool:
        """Gives up the lease held on the task; False when there was none,
        or another process had claimed the task since."""
        lease = self._held.pop(task_id, None)
        return lease is not None and await self._repository.release(lease)

    def forget(self, task_id: str) -> None:
        """Drops a lease without a write (lost, or left to expire)."""
        self._held.pop(task_id, None)

    async def renew(self) -> tuple[list[str], list[str]]:
        """Renews every lease held, in one statement; returns the tasks
        whose lease was lost (another process claimed them after they
        expired), forgotten here, and those whose runs were asked to stop.
        A lease forgotten without a release (its run failed to write) is
        not renewed: it expires."""
        _, expires_at = await self._times()
        # Only leases held before the statement can be missing from it.
        before = dict(self._held)
        renewed = await self._repository.renew(self.owner, tuple(before), expires_at)
        lost = [task_id for task_id, lease in before.items() if lease not in renewed and self._held.get(task_id) == lease]
        for task_id in lost:
            self.forget(task_id)
        return lost, [lease.task_id for lease in renewed if lease.stop_requested]

    async def release_all(self) -> None:
        self._held.clear()
        await self._repository.release_all(self.owner)

    async def _times(self) -> tuple[str, str]:
        """Now and a new lease's expiry, by the database's clock: every
        process compares expiries with the same clock, whatever its
        machine's clock says."""
        now = await self._repository.database_time()
        return iso(now), iso(now + dt.timedelta(seconds=self._seconds))
