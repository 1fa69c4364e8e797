"""Plain records the session domain works with; the servicer converts them to
and from proto messages."""

from __future__ import annotations

import dataclasses
from typing import Any, Awaitable, Callable

from agent_runtime.identity.models import visible

RUNNING = "running"
FINISHED = "finished"
NOT_EXISTENT = "not_existent"

SESSION_START = "session_start"
SESSION_STOP = "session_stop"
MESSAGE = "message"

# What UpdateSession may change; the rest is set by the domain.
UPDATABLE_FIELDS = ("session_name", "project_dir", "agent_name")


@dataclasses.dataclass
class SessionRecord:
    session_id: str
    session_name: str
    status: str
    created_at: str
    updated_at: str
    project_dir: str | None = None
    agent_name: str | None = None
    parent_session_name: str | None = None
    last_resumed_at: str | None = None
    event_count: int = 0
    last_sequence: int = 0
    # The user who owns the session; None: created by an administrator
    # credential (agent_runtime.identity.ownership).
    owner_id: str | None = None

    def record_event(self, event_type: str, now: str) -> int:
        """Counts an event appended at `now` and applies the status rule:
        `session_stop` finishes the session, `session_start` resumes a
        finished one. Returns the event's sequence in the session."""
        self.last_sequence += 1
        self.event_count += 1
        self.updated_at = now
        if event_type == SESSION_STOP:
            self.status = FINISHED
        elif event_type == SESSION_START and self.status == FINISHED:
            self.status = RUNNING
            self.last_resumed_at = now
        return self.last_sequence


@dataclasses.dataclass
class NewEvent:
    """An event as a producer sent it. `body` holds its other fields in their
    JSON form (tool_name, tool_input, tool_output, error, exit_code, reason,
    role, content, payload)."""

    event_type: str
    timestamp: str
    session_name: str = ""
    body: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def role(self) -> str | None:
        return self.body.get("role")


@dataclasses.dataclass
class EventRecord:
    event_id: str
    session_id: str
    session_name: str
    sequence: int
    feed_sequence: int
    event_type: str
    timestamp: str
    body: dict[str, Any]


# An appender's own check, made inside the append's transaction (given
# it): False refuses the append. An agent run's copies of its steps are
# fenced by its lease this way (agents.ports.TaskRepository.lease_guard).
AppendGuard = Callable[[Any], Awaitable[bool]]
# The error code of an append its guard refused.
APPEND_REFUSED = "APPEND_REFUSED"


class AppendRefused:
    """The outcome of an append its guard refused."""


REFUSED = AppendRefused()


@dataclasses.dataclass
class PendingAppend:
    """One event to append; `create_if_missing` is the session that a
    legacy `session_start` creates when none exists."""

    session_id: str
    event: NewEvent
    create_if_missing: SessionRecord | None = None
    # The caller's owner scope (identity.ownership): None sees every session.
    scope: str | None = None
    guard: AppendGuard | None = None

    def admits(self, session: SessionRecord) -> bool:
        """Whether this append may go to `session`: someone else's session
        is as if it did not exist, and is never created over."""
        return visible(session.owner_id, self.scope)


@dataclasses.dataclass
class AppendOutcome:
    event: EventRecord
    # Owner of the session the event went to.
    owner_id: str | None
    # The session as this event left it, only when the event created it or
    # changed its status (what the feed announces): a copy per event would
    # cost more than the rest of an append.
    session: SessionRecord | None
    session_created: bool
    session_changed: bool


@dataclasses.dataclass
class FeedItem:
    """One thing the live feed tells watchers. `kind` is the documented /ws
    message type."""

    kind: str
    session_id: str
    session: SessionRecord | None = None
    event: EventRecord | None = None
    sessions: list[SessionRecord] | None = None
    # Owner of the session the item is about, so watchers see only their own.
    owner_id: str | None = None
