"""The session domain's storage port: what the domain needs from a store of
sessions and their event logs. Adapters (storage/<engine>/sessions.py)
implement it and pass the repository contract suite (tests/contract/)."""

from __future__ import annotations

from typing import Protocol

from agent_runtime.sessions.models import AppendOutcome, AppendRefused, EventRecord, PendingAppend, SessionRecord


class SessionRepository(Protocol):
    async def create_session(self, session: SessionRecord) -> bool:
        """Stores a new session; False (nothing stored) when its id is taken."""
        ...

    async def get_session(self, session_id: str) -> SessionRecord | None: ...

    async def list_sessions(self, limit: int, offset: int, owner: str | None = None) -> list[SessionRecord]:
        """Newest first; only `owner`'s sessions unless owner is None; a
        limit of 0 means no limit."""
        ...

    async def update_session(self, session_id: str, changes: dict[str, str], now: str) -> SessionRecord | None:
        """Sets the given UPDATABLE_FIELDS and updated_at; None when the
        session is missing."""
        ...

    async def delete_session(self, session_id: str) -> int | None:
        """Deletes the session and its events; the number of events deleted,
        or None when the session is missing."""
        ...

    async def append_events(self, appends: list[PendingAppend], now: str) -> list[AppendOutcome | AppendRefused | None]:
        """Appends a batch in one transaction, each event recorded on its
        session by SessionRecord.record_event. Each item gets its outcome,
        REFUSED when its guard refused it, or None when its session is
        missing (or outside the item's scope) and may not be created; the
        other items commit regardless."""
        ...

    async def list_events(self, session_id: str, after_sequence: int, limit: int) -> list[EventRecord]:
        """In sequence order; a limit of 0 means no limit."""
        ...

    async def list_feed(self, after_feed_sequence: int, limit: int, owner: str | None = None) -> list[EventRecord]:
        """Every session's events in feed order, only `owner`'s sessions'
        unless owner is None; a limit of 0 means no limit."""
        ...

    async def latest_event(self, session_id: str, event_type: str, role: str) -> EventRecord | None:
        """The session's event of that type and role with the latest
        timestamp (the later sequence among equal ones)."""
        ...
