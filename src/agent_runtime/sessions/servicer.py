"""gRPC SessionService: converts messages and calls SessionService."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from google.api import httpbody_pb2
from google.protobuf import json_format, timestamp_pb2

from agentruntime.v1 import session_pb2 as pb
from agentruntime.v1 import session_pb2_grpc
from agent_runtime.clock import timestamp_proto
from agent_runtime.errors import DomainError, InvalidArgument
from agent_runtime.interceptors.errors import rpc_status
from agent_runtime.interceptors.validation import validate
from agent_runtime.jsonfmt import dumps, json_http_body
from agent_runtime.identity.ownership import new_owner, owner_scope
from agent_runtime.identity.projects import ProjectDirectories
from agent_runtime.sessions.event_json import event_from_json, event_from_proto, event_json
from agent_runtime.sessions.models import EventRecord, FeedItem, NewEvent, SessionRecord
from agent_runtime.sessions.service import SessionService

# AppendEvents: requests read ahead of the commit, and the most per commit.
APPEND_INBOX = 4096
APPEND_BATCH = 1024
MAX_EVENTS_PER_BATCH = 1000

def session_to_proto(session: SessionRecord) -> pb.Session:
    return pb.Session(
        session_id=session.session_id,
        session_name=session.session_name,
        status=session.status,
        created_at=timestamp_proto(session.created_at),
        updated_at=timestamp_proto(session.updated_at),
        last_resumed_at=timestamp_proto(session.last_resumed_at),
        project_dir=session.project_dir,
        agent_name=session.agent_name,
        parent_session_name=session.parent_session_name,
        event_count=session.event_count,
        last_sequence=session.last_sequence,
    )


def event_to_proto(event: EventRecord) -> pb.Event:
    message = json_format.ParseDict(event.body, pb.Event(), ignore_unknown_fields=True)
    message.event_type = event.event_type
    message.session_id = event.session_id
    message.session_name = event.session_name
    message.timestamp.CopyFrom(timestamp_proto(event.timestamp))
    message.event_id = event.event_id
    message.sequence = event.sequence
    message.feed_sequence = event.feed_sequence
    message.id = event.feed_sequence
    return message


def set_stored_event(message: pb.Event, sent: pb.Event, stored: EventRecord, timestamp: timestamp_pb2.Timestamp) -> None:
    """Fills `message` with `stored`, built from the message it was stored
    from (`sent`): the same as event_to_proto(stored), since the stored body
    is `sent` without its output-only fields, but a copy instead of a JSON
    parse. `timestamp` is stored.timestamp as a message."""
    message.CopyFrom(sent)
    message.event_type = stored.event_type
    message.session_id = stored.session_id
    message.session_name = stored.session_name
    message.timestamp.CopyFrom(timestamp)
    message.event_id = stored.event_id
    message.sequence = stored.sequence
    message.feed_sequence = stored.feed_sequence
    message.id = stored.feed_sequence


async def _read_ahead(requests, weight) -> AsyncIterator[list]:
    """The requests of a client stream in batches: reading runs ahead of
    committing, so whatever arrived while one batch was being committed
    becomes the next (up to APPEND_BATCH events by `weight`)."""
    inbox: asyncio.Queue = asyncio.Queue(APPEND_INBOX)

    async def receive() -> None:
        try:
            async for request in requests:
                await inbox.put(request)
        except Exception as error:  # noqa: BLE001 - handed to the reader below
            # A request that did not parse: the call ends with its error
            # instead of waiting for requests that never come.
            await inbox.put(error)
            return
        await inbox.put(None)

    def received(item):
        if isinstance(item, Exception):
            raise item
        return item

    receiver = asyncio.create_task(receive())
    try:
        while True:
            first = received(await inbox.get())
            if first is None:
                return
            batch, events = [first], weight(first)
            while events < APPEND_BATCH and not inbox.empty():
                request = received(inbox.get_nowait())
                if request is None:
                    yield batch
                    return
                batch.append(request)
                events += weight(request)
            yield batch
    finally:
        receiver.cancel()


def feed_item_to_proto(item: FeedItem, as_json: bool = False) -> pb.WatchSessionsResponse:
    """as_json: the event as JSON text (WatchSessionsRequest.event_json)."""
    response = pb.WatchSessionsResponse(type=item.kind)
    if item.sessions is not None:
        response.sessions.extend(session_to_proto(s) for s in item.sessions)
    if item.event is not None and as_json:
        event = item.event
        response.data_json = dumps(event_json(event))
        # What a watcher keys and resumes by; the rest is in data_json.
        response.data.CopyFrom(pb.Event(
            event_id=event.event_id, session_id=event.session_id, event_type=event.event_type,
            sequence=event.sequence, feed_sequence=event.feed_sequence, id=event.feed_sequence,
        ))
    elif item.event is not None:
        response.data.CopyFrom(event_to_proto(item.event))
    if item.session is not None:
        response.session.CopyFrom(session_to_proto(item.session))
    if item.kind == "session_deleted":
        response.session_id = item.session_id
    return response


# SQLite integers are 64-bit; no real offset comes near this.
MAX_OFFSET = 2**62


def _page(page_size: int, page_token: str) -> tuple[int, int]:
    """page_token is the offset of the next page, printed as text."""
    if page_size < 0:
        raise InvalidArgument("page_size must not be negative")
    try:
        offset = int(page_token) if page_token else 0
    except ValueError:
        raise InvalidArgument("page_token is not one this server handed out") from None
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidArgument("page_token is not one this server handed out")
    return page_size, offset


class SessionServicer(session_pb2_grpc.SessionServiceServicer):
    def __init__(self, sessions: SessionService, directories: ProjectDirectories):
        self._sessions = sessions
        self._directories = directories

    def _check_project_dir(self, project_dir: str | None) -> None:
        """Agent tasks of the session work in its project_dir: the one rule
        of who may choose it (identity/projects.py). It may name a directory
        that does not exist yet; a run checks again."""
        if project_dir:
            self._directories.choose(project_dir, owner=new_owner(), field="project_dir", must_exist=False)

    async def ListSessions(self, request: pb.ListSessionsRequest, context) -> pb.ListSessionsResponse:
        limit, offset = _page(request.page_size, request.page_token)
        sessions = await self._sessions.list_sessions(limit, offset, scope=owner_scope())
        next_token = str(offset + len(sessions)) if limit and len(sessions) == limit else ""
        return pb.ListSessionsResponse(
            sessions=[session_to_proto(s) for s in sessions], next_page_token=next_token
        )

    async def CreateSession(self, request: pb.CreateSessionRequest, context) -> pb.CreateSessionResponse:
        self._check_project_dir(request.project_dir)
        session = await self._sessions.create_session(
            request.session_id,
            request.session_name,
            project_dir=request.project_dir if request.HasField("project_dir") else None,
            agent_name=request.agent_name if request.HasField("agent_name") else None,
            parent_session_name=request.parent_session_name if request.HasField("parent_session_name") else None,
            owner=new_owner(),
        )
        return pb.CreateSessionResponse(ok=True, session=session_to_proto(session))

    async def GetSession(self, request: pb.GetSessionRequest, context) -> pb.GetSessionResponse:
        session = await self._sessions.get_session(request.session_id, scope=owner_scope())
        return pb.GetSessionResponse(session=session_to_proto(session))

    async def GetSessionStatus(self, request: pb.GetSessionStatusRequest, context) -> pb.GetSessionStatusResponse:
        return pb.GetSessionStatusResponse(
            status=await self._sessions.session_status(request.session_id, scope=owner_scope())
        )

    async def GetSessionResult(self, request: pb.GetSessionResultRequest, context) -> pb.GetSessionResultResponse:
        return pb.GetSessionResultResponse(
            result=await self._sessions.session_result(request.session_id, scope=owner_scope())
        )

    async def UpdateSessionMetadata(
        self, request: pb.UpdateSessionMetadataRequest, context
    ) -> pb.UpdateSessionMetadataResponse:
        changes = {
            name: getattr(request, name)
            for name in ("session_name", "project_dir", "agent_name")
            if request.HasField(name)
        }
        self._check_project_dir(changes.get("project_dir"))
        session = await self._sessions.update_metadata(request.session_id, changes, scope=owner_scope())
        return pb.UpdateSessionMetadataResponse(ok=True, session=session_to_proto(session))

    async def DeleteSession(self, request: pb.DeleteSessionRequest, context) -> pb.DeleteSessionResponse:
        events_count = await self._sessions.delete_session(request.session_id, scope=owner_scope())
        return pb.DeleteSessionResponse(
            ok=True,
            session_id=request.session_id,
            deleted=pb.DeletedCounts(session=True, events_count=events_count),
        )

    async def _list_events(self, request: pb.ListEventsRequest | pb.ListEventsJsonRequest) -> tuple[list[EventRecord], str]:
        limit, offset = _page(request.page_size, request.page_token)
        after = max(request.after_sequence, offset)
        events = await self._sessions.list_events(request.session_id, after, limit, scope=owner_scope())
        return events, str(events[-1].sequence) if limit and len(events) == limit else ""

    async def ListEvents(self, request: pb.ListEventsRequest, context) -> pb.ListEventsResponse:
        events, next_token = await self._list_events(request)
        return pb.ListEventsResponse(events=[event_to_proto(e) for e in events], next_page_token=next_token)

    async def ListEventsJson(self, request: pb.ListEventsJsonRequest, context) -> httpbody_pb2.HttpBody:
        events, next_token = await self._list_events(request)
        return json_http_body({"events": [event_json(e) for e in events], "next_page_token": next_token})

    async def _create_event(self, session_id: str, sent: pb.Event, event: NewEvent) -> EventRecord:
        if sent.session_id and sent.session_id != session_id:
            raise InvalidArgument(f"event session_id {sent.session_id!r} differs from the path's {session_id!r}")
        return await self._sessions.append_event(session_id, event, scope=owner_scope())

    async def CreateEvent(self, request: pb.CreateEventRequest, context) -> pb.CreateEventResponse:
        stored = await self._create_event(request.session_id, request.event, event_from_proto(request.event))
        response = pb.CreateEventResponse(ok=True)
        set_stored_event(response.event, request.event, stored, timestamp_proto(stored.timestamp))
        return response

    async def CreateEventJson(self, request: pb.CreateEventJsonRequest, context) -> httpbody_pb2.HttpBody:
        sent, event = event_from_json(request.http_body.data)
        validate(pb.CreateEventRequest(session_id=request.session_id, event=sent))
        stored = await self._create_event(request.session_id, sent, event)
        return json_http_body({"ok": True, "event": event_json(stored)})

    async def _ingest_event(self, sent: pb.Event, event: NewEvent) -> EventRecord:
        return await self._sessions.append_event(
            sent.session_id, event, create_on_start=True, scope=owner_scope(), owner=new_owner()
        )

    async def IngestEvent(self, request: pb.IngestEventRequest, context) -> pb.IngestEventResponse:
        stored = await self._ingest_event(request.event, event_from_proto(request.event))
        response = pb.IngestEventResponse(ok=True)
        set_stored_event(response.event, request.event, stored, timestamp_proto(stored.timestamp))
        return response

    async def IngestEventJson(self, request: pb.IngestEventJsonRequest, context) -> httpbody_pb2.HttpBody:
        sent, event = event_from_json(request.http_body.data)
        validate(pb.IngestEventRequest(event=sent))
        return json_http_body({"ok": True, "event": event_json(await self._ingest_event(sent, event))})

    async def AppendEvents(self, requests, context) -> AsyncIterator[pb.AppendEventsResponse]:
        scope = owner_scope()
        async for batch in _read_ahead(requests, lambda request: 1):
            items: list[tuple[str, pb.Event] | DomainError] = []
            for request in batch:
                try:
                    validate(request)
                    items.append((request.session_id, request.event))
                except DomainError as error:
                    items.append(error)
            for response in await self._append(items, scope):
                yield response

    async def AppendEventBatches(self, requests, context) -> AsyncIterator[pb.AppendEventBatchesResponse]:
        scope = owner_scope()
        async for batch in _read_ahead(requests, lambda request: len(request.events)):
            items: list[tuple[str, pb.Event] | DomainError] = []
            for request in batch:
                try:
                    # The session id here; each event's own rules below, so
                    # that one bad event does not refuse the others.
                    validate(pb.AppendEventBatchesRequest(session_id=request.session_id))
                    if len(request.events) > MAX_EVENTS_PER_BATCH:
                        raise InvalidArgument(
                            f"a batch holds at most {MAX_EVENTS_PER_BATCH} events; this one has {len(request.events)}",
                            fields={"events": f"at most {MAX_EVENTS_PER_BATCH}"},
                        )
                except DomainError as error:
                    items.extend(error for _ in request.events)
                    continue
                for index, event in enumerate(request.events):
                    try:
                        validate(event, f"events[{index}].")
                        items.append((request.session_id, event))
                    except DomainError as error:
                        items.append(error)
            results = iter(await self._append(items, scope))
            for request in batch:
                yield pb.AppendEventBatchesResponse(results=[next(results) for _ in request.events])

    async def _append(self, items: list[tuple[str, pb.Event] | DomainError], scope) -> list[pb.AppendEventsResponse]:
        """Stores the (session_id, event) items in one group commit and
        acknowledges each; a DomainError item is a refusal to report."""
        results: list[EventRecord | DomainError | None] = [None] * len(items)
        accepted, positions = [], []
        for position, item in enumerate(items):
            if isinstance(item, DomainError):
                results[position] = item
                continue
            try:
                accepted.append((item[0], event_from_proto(item[1])))
                positions.append(position)
            except DomainError as error:
                results[position] = error
        for position, result in zip(positions, await self._sessions.append_events(accepted, scope=scope)):
            results[position] = result
        # A batch's events mostly share one commit time.
        timestamps: dict[str, timestamp_pb2.Timestamp] = {}
        responses = []
        for item, result in zip(items, results):
            if isinstance(result, DomainError):
                responses.append(pb.AppendEventsResponse(error=rpc_status(result)))
                continue
            if (timestamp := timestamps.get(result.timestamp)) is None:
                timestamp = timestamps[result.timestamp] = timestamp_proto(result.timestamp)
            response = pb.AppendEventsResponse()
            set_stored_event(response.event, item[1], result, timestamp)
            responses.append(response)
        return responses

    async def WatchSessions(self, request: pb.WatchSessionsRequest, context) -> AsyncIterator[pb.WatchSessionsResponse]:
        async for item in self._sessions.watch(
            request.session_id,
            request.after_sequence if request.HasField("after_sequence") else None,
            request.after_feed_sequence if request.HasField("after_feed_sequence") else None,
            scope=owner_scope(),
        ):
            yield feed_item_to_proto(item, request.event_json)
