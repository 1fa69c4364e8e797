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
per event small."""

from __future__ import annotations

from agent_runtime.sessions.models import EventRecord
from agent_runtime.storage.postgres.channels import SESSION_EVENTS
from agent_runtime.storage.sqlite.sessions import _EVENT_COLUMNS, SqliteSessionRepository, _event


class PostgresSessionRepository(SqliteSessionRepository):
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
