"""The session domain's port (sessions/ports.py) on SQLite."""

from __future__ import annotations

import dataclasses
import json
import uuid

from agent_runtime.jsonfmt import whole_float
from agent_runtime.sessions.models import (
    REFUSED,
    UPDATABLE_FIELDS,
    AppendOutcome,
    EventRecord,
    PendingAppend,
    SessionRecord,
)
from agent_runtime.storage.sqlite.database import Database

_SESSION_COLUMNS = (
    "session_id, session_name, status, created_at, updated_at, project_dir, agent_name,"
    " parent_session_name, last_resumed_at, event_count, last_sequence, owner_id"
)
_EVENT_COLUMNS = "event_id, session_id, sequence, feed_sequence, event_type, timestamp, body"
# Ids per `IN (…)` read of a batch's sessions: far below SQLite's limit on
# a statement's parameters.
SESSIONS_PER_READ = 500


def _session(row) -> SessionRecord:
    return SessionRecord(**{key: row[key] for key in row.keys()})


def _event(row) -> EventRecord:
    # Bodies stored from gRPC before whole numbers were stored as integers
    # hold 3.0 where the client sent 3; read as 3, as REST printed it.
    body = json.loads(row["body"], parse_float=whole_float)
    return EventRecord(
        event_id=row["event_id"],
        session_id=row["session_id"],
        session_name=body.pop("session_name", ""),
        sequence=row["sequence"],
        feed_sequence=row["feed_sequence"],
        event_type=row["event_type"],
        timestamp=row["timestamp"],
        body=body,
    )


class SqliteSessionRepository:
    def __init__(self, database: Database):
        self._db = database

    async def create_session(self, session: SessionRecord) -> bool:
        async with self._db.transaction() as tx:
            return await self._insert_session(tx, session)

    @staticmethod
    async def _insert_session(tx, session: SessionRecord) -> bool:
        """False when the id is taken. The unique key decides, not a read
        before the insert: two processes creating one id at once on
        PostgreSQL would both read nothing."""
        cursor = await tx.execute(
            f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (session_id) DO NOTHING",
            (
                session.session_id,
                session.session_name,
                session.status,
                session.created_at,
                session.updated_at,
                session.project_dir,
                session.agent_name,
                session.parent_session_name,
                session.last_resumed_at,
                session.event_count,
                session.last_sequence,
                session.owner_id,
            ),
        )
        return cursor.rowcount > 0

    async def get_session(self, session_id: str) -> SessionRecord | None:
        row = await self._db.fetch_point(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,))
        return _session(row) if row else None

    async def list_sessions(self, limit: int, offset: int, owner: str | None = None) -> list[SessionRecord]:
        rows = await self._db.fetch_all(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE (? IS NULL OR owner_id = ?)"
            " ORDER BY created_at DESC, session_id LIMIT ? OFFSET ?",
            (owner, owner, limit if limit > 0 else -1, offset),
        )
        return [_session(row) for row in rows]

    async def update_session(self, session_id: str, changes: dict[str, str], now: str) -> SessionRecord | None:
        # Column names go into the SQL text: only known ones.
        if not set(changes) <= set(UPDATABLE_FIELDS):
            raise ValueError(f"cannot update {sorted(set(changes) - set(UPDATABLE_FIELDS))}")
        assignments = ", ".join(f"{column} = ?" for column in changes)
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                f"UPDATE sessions SET {assignments}, updated_at = ? WHERE session_id = ?",
                (*changes.values(), now, session_id),
            )
            if cursor.rowcount == 0:
                return None
            row = await tx.fetch_one(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,))
        return _session(row)

    async def delete_session(self, session_id: str) -> int | None:
        async with self._db.transaction() as tx:
            row = await tx.fetch_one("SELECT event_count FROM sessions WHERE session_id = ?", (session_id,))
            if row is None:
                return None
            cursor = await tx.execute("DELETE FROM events WHERE session_id = ?", (session_id,))
            deleted_events = cursor.rowcount
            await tx.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
        return deleted_events

    async def append_events(self, appends: list[PendingAppend], now: str) -> list[AppendOutcome | None]:
        results: list[AppendOutcome | None] = []
        async with self._db.transaction() as tx:
            # Checked before the feed counter's lock is taken: a guard may
            # wait for a row lock, and should not hold up every appender.
            refused = [pending.guard is not None and not await pending.guard(tx) for pending in appends]
            next_feed = await self._reserve_feed_sequences(tx, len(appends))
            # All of the batch's sessions in one read, after the feed
            # counter's lock: what the last appender committed.
            stored = await self._read_sessions(tx, list({pending.session_id: None for pending in appends}))
            sessions: dict[str, tuple[SessionRecord, bool]] = {}
            rows = []
            for pending, guard_refused in zip(appends, refused):
                session_id, event = pending.session_id, pending.event
                if guard_refused:
                    results.append(REFUSED)
                    continue
                creates = False
                if session_id not in sessions:
                    row = stored.get(session_id)
                    if row is None and pending.create_if_missing is not None:
                        creates = await self._insert_session(tx, pending.create_if_missing)
                        if not creates:
                            # Created by another process since the read.
                            row = await self._read_session(tx, session_id)
                    if creates:
                        sessions[session_id] = (pending.create_if_missing, True)
                    elif row is not None:
                        sessions[session_id] = (_session(row), False)
                    else:
                        results.append(None)
                        continue
                session, created = sessions[session_id]
                if not creates and not pending.admits(session):
                    results.append(None)
                    continue
                previous_status = session.status
                record = EventRecord(
                    event_id=str(uuid.uuid4()),
                    session_id=session_id,
                    session_name=event.session_name or session.session_name,
                    sequence=session.record_event(event.event_type, now),
                    feed_sequence=next_feed,
                    event_type=event.event_type,
                    timestamp=event.timestamp,
                    body=event.body,
                )
                next_feed += 1
                body = json.dumps({**record.body, "session_name": record.session_name}, separators=(",", ":"))
                rows.append(
                    (record.feed_sequence, record.event_id, session_id, record.sequence, record.event_type, event.role, record.timestamp, body)
                )
                session_created = created and session.event_count == 1
                session_changed = session.status != previous_status
                results.append(
                    AppendOutcome(
                        event=record,
                        owner_id=session.owner_id,
                        session=dataclasses.replace(session) if session_created or session_changed else None,
                        session_created=session_created,
                        session_changed=session_changed,
                    )
                )
            if rows:
                await self._write_batch(
                    tx,
                    rows,
                    [
                        (s.status, s.updated_at, s.last_resumed_at, s.event_count, s.last_sequence, s.session_id)
                        for s, _ in sessions.values()
                    ],
                )
        return results

    @staticmethod
    async def _write_batch(tx, events: list[tuple], session_counters: list[tuple]) -> None:
        """Inserts the batch's event rows (feed_sequence, event_id,
        session_id, sequence, event_type, role, timestamp, body) and updates
        its sessions' rows (status, updated_at, last_resumed_at, event_count,
        last_sequence, session_id)."""
        # Explicit feed sequences (AUTOINCREMENT keeps sqlite_sequence in
        # step) let one executemany insert the whole batch.
        await tx.executemany(
            "INSERT INTO events (feed_sequence, event_id, session_id, sequence, event_type, role, timestamp, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            events,
        )
        await tx.executemany(
            "UPDATE sessions SET status = ?, updated_at = ?, last_resumed_at = ?, event_count = ?,"
            " last_sequence = ? WHERE session_id = ?",
            session_counters,
        )

    @staticmethod
    async def _read_sessions(tx, session_ids: list[str]) -> dict:
        """The stored rows of these sessions, by id."""
        found = {}
        for start in range(0, len(session_ids), SESSIONS_PER_READ):
            chunk = session_ids[start : start + SESSIONS_PER_READ]
            result = await tx.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_id IN ({', '.join('?' for _ in chunk)})", tuple(chunk)
            )
            found.update((row["session_id"], row) for row in await result.fetchall())
        return found

    @staticmethod
    async def _read_session(tx, session_id: str):
        return await tx.fetch_one(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,))

    @staticmethod
    async def _reserve_feed_sequences(tx, count: int) -> int:
        """The first of `count` feed sequences for this batch: AUTOINCREMENT's
        counter, which the explicit values inserted keep in step (writers
        take turns: BEGIN IMMEDIATE)."""
        row = await tx.fetch_one("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
        return (row[0] if row else 0) + 1

    async def list_events(self, session_id: str, after_sequence: int, limit: int) -> list[EventRecord]:
        rows = await self._db.fetch_all(
            f"SELECT {_EVENT_COLUMNS} FROM events"
            " WHERE session_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
            (session_id, after_sequence, limit if limit > 0 else -1),
        )
        return [_event(row) for row in rows]

    async def list_feed(self, after_feed_sequence: int, limit: int, owner: str | None = None) -> list[EventRecord]:
        if owner is None:
            rows = await self._db.fetch_all(
                f"SELECT {_EVENT_COLUMNS} FROM events"
                " WHERE feed_sequence > ? ORDER BY feed_sequence LIMIT ?",
                (after_feed_sequence, limit if limit > 0 else -1),
            )
        else:
            columns = ", ".join(f"e.{c.strip()}" for c in _EVENT_COLUMNS.split(","))
            rows = await self._db.fetch_all(
                f"SELECT {columns} FROM events e JOIN sessions s ON s.session_id = e.session_id"
                " WHERE e.feed_sequence > ? AND s.owner_id = ? ORDER BY e.feed_sequence LIMIT ?",
                (after_feed_sequence, owner, limit if limit > 0 else -1),
            )
        return [_event(row) for row in rows]

    async def latest_event(self, session_id: str, event_type: str, role: str) -> EventRecord | None:
        row = await self._db.fetch_one(
            f"SELECT {_EVENT_COLUMNS} FROM events"
            " WHERE session_id = ? AND event_type = ? AND role = ?"
            " ORDER BY timestamp DESC, sequence DESC LIMIT 1",
            (session_id, event_type, role),
        )
        return _event(row) if row else None
