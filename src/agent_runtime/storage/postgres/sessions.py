"""Sessions and their events on PostgreSQL: the SQLite adapter's SQL, with
the feed's sequence numbers taken from a counter row.

Why a counter row and not a sequence: a reader tails the feed by
`feed_sequence > last seen`. Numbers from a PostgreSQL sequence (bigserial)
are handed out at insert and become visible at commit, so a batch that took
7 may commit after one that took 8; a reader that saw 8 passes 7 forever.
Every append transaction updates the one counter row first; the row lock
makes appenders commit one after another, each with numbers above all
committed ones, so the feed is committed in order and a tailing reader never
skips an event. A session's own `sequence` is read after that lock, so it
too comes from the last commit. Batches (group commit) keep the lock's cost
per event small, and so does holding it for few round trips: a batch's
sessions are read in one statement and its events and session counters
written in another (arrays unnested), whatever the batch's size.

Sessions created, changed or deleted are announced on SESSION_CHANGES in
the same transaction, so the session list on /ws of every process hears of
them (relay.py); a change an appended event made carries that event's feed
sequence, for the relay to send it just before the event, as the process
that appended it does."""

from __future__ import annotations

from agent_runtime.sessions.models import AppendOutcome, EventRecord, PendingAppend, SessionRecord
from agent_runtime.storage.postgres.channels import SESSION_CHANGES, SESSION_EVENTS, notify
from agent_runtime.storage.sqlite.sessions import _EVENT_COLUMNS, _SESSION_COLUMNS, SqliteSessionRepository, _event

# One statement: the events inserted from arrays, one per column, and
# each session's counters updated from arrays of its own.
_WRITE_BATCH = (
    "WITH inserted AS (INSERT INTO events (feed_sequence, event_id, session_id, sequence, event_type, role, timestamp, body)"
    " SELECT * FROM unnest(?::bigint[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[]))"
    " UPDATE sessions SET status = counters.status, updated_at = counters.updated_at,"
    " last_resumed_at = counters.last_resumed_at, event_count = counters.event_count, last_sequence = counters.last_sequence"
    " FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::text[])"
    " AS counters (status, updated_at, last_resumed_at, event_count, last_sequence, session_id)"
    " WHERE sessions.session_id = counters.session_id"
)


# Changes per notification: a payload must stay under 8000 bytes, and a
# change is at most ~300 (a session id is up to 128 characters).
CHANGES_PER_NOTIFICATION = 20


async def _announce(tx, changes: list[tuple[str, str, int | None, str | None]]) -> None:
    """(kind, session id, feed sequence of the event that made it or None,
    owner) of each change."""
    for start in range(0, len(changes), CHANGES_PER_NOTIFICATION):
        await notify(tx, SESSION_CHANGES, {"changes": changes[start : start + CHANGES_PER_NOTIFICATION]})


class PostgresSessionRepository(SqliteSessionRepository):
    async def create_session(self, session: SessionRecord) -> bool:
        async with self._db.transaction() as tx:
            created = await self._insert_session(tx, session)
            if created:
                await _announce(tx, [("session_created", session.session_id, None, session.owner_id)])
        return created

    async def update_session(self, session_id: str, changes: dict[str, str], now: str) -> SessionRecord | None:
        async with self._db.transaction() as tx:
            session = await super().update_session(session_id, changes, now)
            if session is not None:
                await _announce(tx, [("session_updated", session_id, None, session.owner_id)])
        return session

    async def delete_session(self, session_id: str) -> int | None:
        async with self._db.transaction() as tx:
            row = await tx.fetch_one("SELECT owner_id FROM sessions WHERE session_id = ? FOR UPDATE", (session_id,))
            deleted = await super().delete_session(session_id)
            if deleted is not None:
                await _announce(tx, [("session_deleted", session_id, None, row["owner_id"])])
        return deleted

    async def append_events(self, appends: list[PendingAppend], now: str) -> list[AppendOutcome | None]:
        async with self._db.transaction() as tx:
            outcomes = await super().append_events(appends, now)
            changes = [
                (kind, outcome.event.session_id, outcome.event.feed_sequence, outcome.owner_id)
                for outcome in outcomes
                if isinstance(outcome, AppendOutcome)
                for kind, made in (("session_created", outcome.session_created), ("session_updated", outcome.session_changed))
                if made
            ]
            if changes:
                await _announce(tx, changes)
        return outcomes

    @staticmethod
    async def _reserve_feed_sequences(tx, count: int) -> int:
        """Takes `count` numbers and the counter's lock until commit, and
        notifies the last of them (ids only; PostgreSQL delivers it after
        the commit): one notification per batch, as a notification in a
        transaction costs a cluster-wide lock at its commit. Items of the
        batch that fail (a missing session) leave a gap: readers need
        order, not contiguity."""
        row = await tx.fetch_one(
            "WITH reserved AS (UPDATE event_feed_counter SET last_feed_sequence = last_feed_sequence + ?"
            " RETURNING last_feed_sequence)"
            " SELECT last_feed_sequence - ? + 1, pg_notify(?, json_build_object("
            "'origin', current_setting('application_name'), 'feed_sequence', last_feed_sequence)::text) FROM reserved",
            (count, count, SESSION_EVENTS),
        )
        return row[0]

    @staticmethod
    async def _read_sessions(tx, session_ids: list[str]) -> dict:
        result = await tx.execute(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_id = ANY(?::text[])", (session_ids,))
        return {row["session_id"]: row for row in await result.fetchall()}

    @staticmethod
    async def _write_batch(tx, events: list[tuple], session_counters: list[tuple]) -> None:
        await tx.execute(_WRITE_BATCH, (*(list(column) for column in zip(*events)), *(list(column) for column in zip(*session_counters))))

    async def feed_after(self, after_feed_sequence: int, up_to: int | None) -> list[tuple[EventRecord, str | None]]:
        """The events after one feed sequence, up to another (None: all
        committed), in feed order, each with its session's owner: what the
        notification relay publishes (relay.py)."""
        columns = ", ".join(f"e.{column.strip()}" for column in _EVENT_COLUMNS.split(","))
        rows = await self._db.fetch_all(
            f"SELECT {columns}, s.owner_id FROM events e JOIN sessions s ON s.session_id = e.session_id"
            " WHERE e.feed_sequence > ? AND (?::bigint IS NULL OR e.feed_sequence <= ?) ORDER BY e.feed_sequence",
            (after_feed_sequence, up_to, up_to),
        )
        return [(_event(row), row["owner_id"]) for row in rows]

    async def last_feed_sequence(self) -> int:
        row = await self._db.fetch_one("SELECT COALESCE(MAX(feed_sequence), 0) FROM events")
        return row[0]
