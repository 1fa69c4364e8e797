"""SQLite adapter of the agents' LeaseRepository: who runs which task.
A claim is one UPDATE that bumps the epoch, so two claimers never get the
same task (SQLite runs one writer at a time; PostgreSQL rechecks the WHERE
of a row another claimer changed, and its adapter skips locked rows)."""

from __future__ import annotations

import datetime as dt

from agent_runtime.agents.models import RunLease
from agent_runtime.clock import parse_iso
from agent_runtime.storage.sqlite.agents.rows import marks
from agent_runtime.storage.sqlite.database import Database

# Claimable: one of the given statuses, and no lease or an expired one.
_CLAIMABLE = "status IN ({statuses}) AND (lease_owner IS NULL OR lease_expires_at < ?)"
_CLAIM = "UPDATE agent_tasks SET lease_owner = ?, lease_epoch = lease_epoch + 1, lease_expires_at = ?"


class SqliteLeaseRepository:
    # What the choice of tasks to claim adds to lock them (PostgreSQL's).
    CHOICE_LOCK = ""

    def __init__(self, database: Database):
        self._db = database

    async def claim_runnable(
        self,
        owner: str,
        now: str,
        expires_at: str,
        *,
        statuses: tuple[str, ...],
        limit: int,
        exclude: tuple[str, ...] = (),
        per_user: int | None = None,
    ) -> list[RunLease]:
        """Claims up to `limit` claimable tasks, leaving out `exclude` (the
        runs this process has already), fairly by the tasks' owners: users
        take turns (round robin), each user's tasks oldest first, and with
        `per_user` no user gets more than that many tasks leased to `owner`
        (counting those it holds already), as FairScheduler shares the run
        slots within the process."""
        if limit <= 0:
            return []
        claimable = _CLAIMABLE.format(statuses=marks(statuses))
        excluded = f" AND task_id NOT IN ({marks(exclude)})" if exclude else ""
        capped = " WHERE turn <= ?" if per_user is not None else ""
        async with self._db.transaction() as tx:
            # A user's turn for a task: its rank among the user's claimable
            # tasks after those leased to `owner` already. The choice is made
            # once (a materialized CTE), before the UPDATE: a subquery in its
            # WHERE may be evaluated again.
            cursor = await tx.execute(
                "WITH held AS (SELECT owner, COUNT(*) AS runs FROM agent_tasks WHERE lease_owner = ? GROUP BY owner),"
                " turns AS (SELECT task_id, created_at, COALESCE(held.runs, 0)"
                " + ROW_NUMBER() OVER (PARTITION BY agent_tasks.owner ORDER BY created_at, task_id) AS turn"
                f" FROM agent_tasks LEFT JOIN held USING (owner) WHERE {claimable}{excluded}),"
                " chosen AS MATERIALIZED (SELECT agent_tasks.task_id FROM agent_tasks JOIN"
                f" (SELECT task_id, turn, created_at AS since FROM turns{capped}) AS fair USING (task_id)"
                f" ORDER BY fair.turn, fair.since, agent_tasks.task_id LIMIT ?{self.CHOICE_LOCK})"
                f" {_CLAIM} WHERE task_id IN (SELECT task_id FROM chosen) AND {claimable} RETURNING task_id, lease_epoch",
                (
                    owner,
                    *statuses,
                    now,
                    *exclude,
                    *(() if per_user is None else (per_user,)),
                    limit,
                    owner,
                    expires_at,
                    *statuses,
                    now,
                ),
            )
            rows = await cursor.fetchall()
        return [RunLease(row["task_id"], owner, row["lease_epoch"]) for row in rows]

    async def database_time(self) -> dt.datetime:
        row = await self._db.fetch_one("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now') AS now")
        return parse_iso(row["now"])

    async def claim_task(self, task_id: str, owner: str, now: str, expires_at: str, *, statuses: tuple[str, ...]) -> RunLease | None:
        """Claims one task if it is claimable, or `owner` holds it already
        (a release of its that may not have happened: the new epoch fences
        out anything of the old one); None otherwise."""
        claimable = _CLAIMABLE.format(statuses=marks(statuses))
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                f"{_CLAIM} WHERE task_id = ? AND ({claimable} OR (status IN ({marks(statuses)}) AND lease_owner = ?)) RETURNING lease_epoch",
                (owner, expires_at, task_id, *statuses, now, *statuses, owner),
            )
            rows = await cursor.fetchall()
        return RunLease(task_id, owner, rows[0]["lease_epoch"]) if rows else None

    async def renew(self, owner: str, task_ids: tuple[str, ...], expires_at: str) -> list[RunLease]:
        """Extends the leases of `task_ids` that `owner` still holds, in one
        statement; the leases renewed (one missing from them was lost), each
        saying whether a stop was asked of its run."""
        if not task_ids:
            return []
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                f"UPDATE agent_tasks SET lease_expires_at = ? WHERE lease_owner = ? AND task_id IN ({marks(task_ids)})"
                " RETURNING task_id, lease_epoch, stop_requested",
                (expires_at, owner, *task_ids),
            )
            rows = await cursor.fetchall()
        return [RunLease(row["task_id"], owner, row["lease_epoch"], stop_requested=bool(row["stop_requested"])) for row in rows]

    async def release(self, lease: RunLease) -> bool:
        """Gives a lease up (only while it is still this one)."""
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE agent_tasks SET lease_owner = NULL, lease_expires_at = NULL WHERE task_id = ? AND lease_owner = ? AND lease_epoch = ?",
                (lease.task_id, lease.owner, lease.epoch),
            )
            return cursor.rowcount > 0

    async def release_all(self, owner: str) -> int:
        async with self._db.transaction() as tx:
            cursor = await tx.execute("UPDATE agent_tasks SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = ?", (owner,))
            return cursor.rowcount
