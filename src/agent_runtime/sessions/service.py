"""The session domain: create, change and delete sessions, append and read
their events, and feed watchers.

Ownership (agent_runtime.identity.ownership): `owner` is stamped on what a
call creates; `scope` (None = everything) limits what a call sees, and a
session outside it answers exactly as a missing one."""

from __future__ import annotations

import re
from typing import AsyncIterator

from agent_runtime.clock import Clock, iso, utc_now
from agent_runtime.errors import AlreadyExists, DomainError, FailedPrecondition, InvalidArgument, NotFound
from agent_runtime.events.bus import EventBus
from agent_runtime.identity.ownership import visible
from agent_runtime.sessions.models import (
    FINISHED,
    MESSAGE,
    NOT_EXISTENT,
    RUNNING,
    SESSION_START,
    UPDATABLE_FIELDS,
    APPEND_REFUSED,
    AppendGuard,
    AppendOutcome,
    AppendRefused,
    EventRecord,
    FeedItem,
    NewEvent,
    PendingAppend,
    SessionRecord,
)
from agent_runtime.sessions.ports import SessionRepository
from agent_runtime.sessions.group_commit import GroupCommit

SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
ROLES = ("assistant", "user")
MAX_NAME_LENGTH = 256
MAX_PATH_LENGTH = 4096
# Events are read from storage in pages of this many when a watcher replays.
REPLAY_PAGE = 500


def check_session_id(session_id: str) -> None:
    if not session_id:
        raise InvalidArgument("session_id is required")
    if not SESSION_ID_PATTERN.match(session_id):
        raise InvalidArgument(
            "session_id must be 1-128 characters of letters, digits and '._:@-'"
        )


def _check_text(name: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise InvalidArgument(f"{name} is longer than {limit} characters")


def _not_found(session_id: str) -> NotFound:
    return NotFound(f"Session {session_id} not found", code="SESSION_NOT_FOUND")


def _append_result(session_id: str, outcome: AppendOutcome | AppendRefused | None) -> EventRecord | DomainError:
    if outcome is None:
        return _not_found(session_id)
    if isinstance(outcome, AppendRefused):
        return FailedPrecondition(f"The append to session {session_id} was refused by its writer's guard", code=APPEND_REFUSED)
    return outcome.event


class SessionService:
    def __init__(self, repository: SessionRepository, bus: EventBus[FeedItem], clock: Clock = utc_now):
        self._repository = repository
        self._bus = bus
        self._clock = clock
        self._appends: GroupCommit[PendingAppend, AppendOutcome | AppendRefused | None] = GroupCommit(self._commit_appends)

    def _now(self) -> str:
        return iso(self._clock())

    async def list_sessions(self, limit: int = 0, offset: int = 0, *, scope: str | None = None) -> list[SessionRecord]:
        return await self._repository.list_sessions(limit, offset, scope)

    async def create_session(
        self,
        session_id: str,
        session_name: str = "",
        *,
        project_dir: str | None = None,
        agent_name: str | None = None,
        parent_session_name: str | None = None,
        owner: str | None = None,
    ) -> SessionRecord:
        check_session_id(session_id)
        for name, value, limit in (
            ("session_name", session_name, MAX_NAME_LENGTH),
            ("project_dir", project_dir, MAX_PATH_LENGTH),
            ("agent_name", agent_name, MAX_NAME_LENGTH),
            ("parent_session_name", parent_session_name, MAX_NAME_LENGTH),
        ):
            _check_text(name, value, limit)
        now = self._now()
        session = SessionRecord(
            session_id=session_id,
            session_name=session_name or session_id,
            status=RUNNING,
            created_at=now,
            updated_at=now,
            project_dir=project_dir,
            agent_name=agent_name,
            parent_session_name=parent_session_name,
            owner_id=owner,
        )
        if not await self._repository.create_session(session):
            raise AlreadyExists("Session already exists")
        self._bus.publish(FeedItem("session_created", session_id, session=session, owner_id=owner))
        return session

    async def get_session(self, session_id: str, *, scope: str | None = None) -> SessionRecord:
        session = await self._repository.get_session(session_id)
        if session is None or not visible(session.owner_id, scope):
            raise _not_found(session_id)
        return session

    async def session_status(self, session_id: str, *, scope: str | None = None) -> str:
        session = await self._repository.get_session(session_id)
        return session.status if session and visible(session.owner_id, scope) else NOT_EXISTENT

    async def session_result(self, session_id: str, *, scope: str | None = None) -> str:
        session = await self.get_session(session_id, scope=scope)
        if session.status != FINISHED:
            raise FailedPrecondition(
                f"Session {session_id} is not finished yet (status {session.status}); "
                "its result exists once a session_stop event arrives",
                code="SESSION_NOT_FINISHED",
            )
        message = await self._repository.latest_event(session_id, MESSAGE, "assistant")
        if message is None:
            return ""
        return "".join(
            block.get("text", "")
            for block in message.body.get("content", [])
            if isinstance(block, dict) and block.get("type") == "text"
        )

    async def update_metadata(self, session_id: str, changes: dict[str, str], *, scope: str | None = None) -> SessionRecord:
        if not changes:
            raise InvalidArgument(
                "At least one of session_name, project_dir, agent_name must be provided"
            )
        unknown = set(changes) - set(UPDATABLE_FIELDS)
        if unknown:
            raise InvalidArgument(f"only {', '.join(UPDATABLE_FIELDS)} can be changed, not {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            _check_text(name, value, MAX_PATH_LENGTH if name == "project_dir" else MAX_NAME_LENGTH)
        if changes.get("session_name") == "":
            raise InvalidArgument("session_name must not be empty")
        if scope is not None:
            # The owner never changes, so checking first is race-free.
            await self.get_session(session_id, scope=scope)
        session = await self._repository.update_session(session_id, changes, self._now())
        if session is None:
            raise _not_found(session_id)
        self._bus.publish(FeedItem("session_updated", session_id, session=session, owner_id=session.owner_id))
        return session

    async def delete_session(self, session_id: str, *, scope: str | None = None) -> int:
        owner = (await self.get_session(session_id, scope=scope)).owner_id
        events_count = await self._repository.delete_session(session_id)
        if events_count is None:
            raise _not_found(session_id)
        self._bus.publish(FeedItem("session_deleted", session_id, owner_id=owner))
        return events_count

    async def list_events(
        self, session_id: str, after_sequence: int = 0, limit: int = 0, *, scope: str | None = None
    ) -> list[EventRecord]:
        if after_sequence < 0 or limit < 0:
            raise InvalidArgument("after_sequence and page_size must not be negative")
        if scope is not None:
            await self.get_session(session_id, scope=scope)
        events = await self._repository.list_events(session_id, after_sequence, limit)
        if not events and await self._repository.get_session(session_id) is None:
            raise _not_found(session_id)
        if not after_sequence and not limit:
            # The whole log, as the document lists it: by the events' own
            # timestamps (clients may post them out of order), log order
            # among equal ones. Cursors (after_sequence, pages) follow log
            # order, the only one that new events extend.
            events.sort(key=lambda event: (event.timestamp, event.sequence))
        return events

    async def append_event(
        self,
        session_id: str,
        event: NewEvent,
        *,
        create_on_start: bool = False,
        scope: str | None = None,
        owner: str | None = None,
        guard: AppendGuard | None = None,
    ) -> EventRecord:
        """Appends to a session's log. With create_on_start (the legacy
        ingestion), a `session_start` event creates a missing session."""
        (result,) = await self.append_events(
            [(session_id, event)], create_on_start=create_on_start, scope=scope, owner=owner, guard=guard
        )
        if isinstance(result, DomainError):
            raise result
        return result

    async def append_events(
        self,
        items: list[tuple[str, NewEvent]],
        *,
        create_on_start: bool = False,
        scope: str | None = None,
        owner: str | None = None,
        guard: AppendGuard | None = None,
    ) -> list[EventRecord | DomainError]:
        """Appends a batch with one commit; each item gets its stored event
        or the error that refused it (the others are stored regardless).
        `scope` limits the sessions the caller may append to; `owner` owns
        sessions that a legacy `session_start` creates; `guard` is checked
        in the append's transaction (models.AppendGuard)."""
        now = self._now()
        results: list[EventRecord | DomainError | None] = [None] * len(items)
        pending, positions = [], []
        for position, (session_id, event) in enumerate(items):
            try:
                check_session_id(session_id)
                self._check_event(event)
            except DomainError as error:
                results[position] = error
                continue
            if not event.timestamp:
                event.timestamp = now
            new_session = None
            if create_on_start and event.event_type == SESSION_START:
                new_session = SessionRecord(
                    session_id=session_id,
                    session_name=event.session_name or session_id,
                    status=RUNNING,
                    created_at=now,
                    updated_at=now,
                    owner_id=owner,
                )
            pending.append(PendingAppend(session_id, event, new_session, scope, guard))
            positions.append(position)
        if pending:
            for position, append, outcome in zip(positions, pending, await self._appends.submit(pending)):
                results[position] = _append_result(append.session_id, outcome)
        return results  # type: ignore[return-value]

    async def _commit_appends(self, pending: list[PendingAppend]) -> list[AppendOutcome | AppendRefused | None]:
        outcomes = await self._repository.append_events(pending, self._now())
        # Published here, in commit order: watchers rely on feed order.
        for outcome in outcomes:
            if isinstance(outcome, AppendOutcome):
                self._publish_append(outcome)
        return outcomes

    def _publish_append(self, outcome: AppendOutcome) -> None:
        session_id = outcome.event.session_id
        owner = outcome.owner_id
        # The session's new state goes first, then the event that changed it,
        # as the session-event server sends them: its frontend shows a
        # session_stop with a non-zero exit_code as "stopped", which a later
        # session_updated ("finished") would overwrite.
        if outcome.session_created:
            self._bus.publish(FeedItem("session_created", session_id, session=outcome.session, owner_id=owner))
        if outcome.session_changed:
            self._bus.publish(FeedItem("session_updated", session_id, session=outcome.session, owner_id=owner))
        self._bus.publish(FeedItem("event", session_id, event=outcome.event, owner_id=owner))

    @staticmethod
    def _check_event(event: NewEvent) -> None:
        if not event.event_type:
            raise InvalidArgument("event_type is required")
        if not EVENT_TYPE_PATTERN.match(event.event_type):
            raise InvalidArgument("event_type must be lower_snake_case, at most 64 characters")
        role = event.role
        if role is not None and role not in ROLES:
            raise InvalidArgument(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if event.event_type == MESSAGE and role is None:
            raise InvalidArgument("a message event needs a role: assistant or user")
        _check_text("session_name", event.session_name, MAX_NAME_LENGTH)

    async def watch(
        self,
        session_id: str = "",
        after_sequence: int | None = None,
        after_feed_sequence: int | None = None,
        *,
        scope: str | None = None,
    ) -> AsyncIterator[FeedItem]:
        """init snapshot, then the events after the cursor from storage (a
        cursor of 0 replays everything, none replays nothing), then live
        items. Subscribes before reading storage, so nothing committed in
        between is missed; duplicates are skipped by sequence number."""
        if (after_sequence or 0) < 0 or (after_feed_sequence or 0) < 0:
            raise InvalidArgument("after_sequence and after_feed_sequence must not be negative")
        if after_sequence and not session_id:
            raise InvalidArgument(
                "after_sequence counts within one session: give session_id too, "
                "or resume the all-sessions feed with after_feed_sequence"
            )
        if not session_id:
            after_sequence = None
        if session_id:
            check_session_id(session_id)
            existing = await self._repository.get_session(session_id)
            # Resuming a session that is gone would silently wait forever;
            # another user's session is not there for this watcher.
            if (after_sequence and existing is None) or (existing is not None and not visible(existing.owner_id, scope)):
                raise _not_found(session_id)
        subscription = self._bus.subscribe(
            (lambda item: item.session_id == session_id and visible(item.owner_id, scope))
            if session_id
            else (lambda item: visible(item.owner_id, scope))
        )
        try:
            replaying = after_sequence is not None or after_feed_sequence is not None
            replay_from = last_feed = after_feed_sequence or 0
            while True:
                yield FeedItem("init", session_id, sessions=await self._snapshot(session_id, scope))
                if replaying:
                    async for event in self._replay(session_id, after_sequence, replay_from, scope):
                        last_feed = max(last_feed, event.feed_sequence)
                        yield FeedItem("event", event.session_id, event=event)
                while True:
                    item = await subscription.get()
                    if item is None:
                        break
                    if item.event is not None:
                        if item.event.feed_sequence <= last_feed or (
                            after_sequence is not None and item.event.sequence <= after_sequence
                        ):
                            continue
                        last_feed = item.event.feed_sequence
                    yield item
                # Fell behind: resynchronise from storage where we stopped.
                subscription.reset()
                replaying, replay_from, after_sequence = True, last_feed, None
        finally:
            subscription.close()

    async def _snapshot(self, session_id: str, scope: str | None) -> list[SessionRecord]:
        if not session_id:
            return await self._repository.list_sessions(0, 0, scope)
        session = await self._repository.get_session(session_id)
        return [session] if session and visible(session.owner_id, scope) else []

    async def _replay(
        self, session_id: str, after_sequence: int | None, after_feed: int, scope: str | None
    ) -> AsyncIterator[EventRecord]:
        while True:
            if session_id and after_sequence is not None:
                page = await self._repository.list_events(session_id, after_sequence, REPLAY_PAGE)
            else:
                page = await self._repository.list_feed(after_feed, REPLAY_PAGE, scope)
            for event in page:
                if not session_id or event.session_id == session_id:
                    yield event
            if len(page) < REPLAY_PAGE:
                return
            after_sequence = page[-1].sequence
            after_feed = page[-1].feed_sequence
