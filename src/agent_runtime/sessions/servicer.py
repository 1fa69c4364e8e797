"""gRPC SessionService: converts messages and calls SessionService."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from google.protobuf import json_format, timestamp_pb2

from agentruntime.v1 import session_pb2 as pb
from agentruntime.v1 import session_pb2_grpc
from agent_runtime.clock import iso, timestamp_proto
from agent_runtime.errors import DomainError, InvalidArgument
from agent_runtime.interceptors.errors import rpc_status
from agent_runtime.interceptors.validation import validate
from agent_runtime.identity.ownership import new_owner, owner_scope
from agent_runtime.sessions.models import EventRecord, FeedItem, NewEvent, SessionRecord
from agent_runtime.sessions.service import SessionService

# AppendEvents: requests read ahead of the commit, and the most per commit.
APPEND_INBOX = 4096
APPEND_BATCH = 1024

_OUTPUT_ONLY_EVENT_FIELDS = ("event_type", "session_id", "session_name", "timestamp", "event_id", "sequence", "feed_sequence")


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


def event_from_proto(event: pb.Event) -> NewEvent:
    body = json_format.MessageToDict(event, preserving_proto_field_name=True)
    for name in _OUTPUT_ONLY_EVENT_FIELDS:
        body.pop(name, None)
    return NewEvent(
        event_type=event.event_type,
        timestamp=iso(event.timestamp.ToDatetime()) if event.HasField("timestamp") else "",
        session_name=event.session_name,
        body=body,
    )


def feed_item_to_proto(item: FeedItem) -> pb.WatchSessionsResponse:
    response = pb.WatchSessionsResponse(type=item.kind)
    if item.sessions is not None:
        response.sessions.extend(session_to_proto(s) for s in item.sessions)
    if item.event is not None:
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
    def __init__(self, sessions: SessionService):
        self._sessions = sessions

    async def ListSessions(self, request: pb.ListSessionsRequest, context) -> pb.ListSessionsResponse:
        limit, offset = _page(request.page_size, request.page_token)
        sessions = await self._sessions.list_sessions(limit, offset, scope=owner_scope())
        next_token = str(offset + len(sessions)) if limit and len(sessions) == limit else ""
        return pb.ListSessionsResponse(
            sessions=[session_to_proto(s) for s in sessions], next_page_token=next_token
        )

    async def CreateSession(self, request: pb.CreateSessionRequest, context) -> pb.CreateSessionResponse:
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
        session = await self._sessions.update_metadata(request.session_id, changes, scope=owner_scope())
        return pb.UpdateSessionMetadataResponse(ok=True, session=session_to_proto(session))

    async def DeleteSession(self, request: pb.DeleteSessionRequest, context) -> pb.DeleteSessionResponse:
        events_count = await self._sessions.delete_session(request.session_id, scope=owner_scope())
        return pb.DeleteSessionResponse(
            ok=True,
            session_id=request.session_id,
            deleted=pb.DeletedCounts(session=True, events_count=events_count),
        )

    async def ListEvents(self, request: pb.ListEventsRequest, context) -> pb.ListEventsResponse:
        limit, offset = _page(request.page_size, request.page_token)
        after = max(request.after_sequence, offset)
        events = await self._sessions.list_events(request.session_id, after, limit, scope=owner_scope())
        next_token = str(events[-1].sequence) if limit and len(events) == limit else ""
        return pb.ListEventsResponse(events=[event_to_proto(e) for e in events], next_page_token=next_token)

    async def CreateEvent(self, request: pb.CreateEventRequest, context) -> pb.CreateEventResponse:
        if request.event.session_id and request.event.session_id != request.session_id:
            raise InvalidArgument(
                f"event session_id {request.event.session_id!r} differs from the path's {request.session_id!r}"
            )
        stored = await self._sessions.append_event(
            request.session_id, event_from_proto(request.event), scope=owner_scope()
        )
        response = pb.CreateEventResponse(ok=True)
        set_stored_event(response.event, request.event, stored, timestamp_proto(stored.timestamp))
        return response

    async def IngestEvent(self, request: pb.IngestEventRequest, context) -> pb.IngestEventResponse:
        stored = await self._sessions.append_event(
            request.event.session_id,
            event_from_proto(request.event),
            create_on_start=True,
            scope=owner_scope(),
            owner=new_owner(),
        )
        response = pb.IngestEventResponse(ok=True)
        set_stored_event(response.event, request.event, stored, timestamp_proto(stored.timestamp))
        return response

    async def AppendEvents(self, requests, context) -> AsyncIterator[pb.AppendEventsResponse]:
        # Reading runs ahead of committing, so whatever arrived while one
        # batch was being committed becomes the next batch.
        inbox: asyncio.Queue[pb.AppendEventsRequest | None] = asyncio.Queue(APPEND_INBOX)
        scope = owner_scope()

        async def receive() -> None:
            async for request in requests:
                await inbox.put(request)
            await inbox.put(None)

        receiver = asyncio.create_task(receive())
        try:
            finished = False
            while not finished:
                batch = [await inbox.get()]
                while len(batch) < APPEND_BATCH and not inbox.empty() and batch[-1] is not None:
                    batch.append(inbox.get_nowait())
                if batch[-1] is None:
                    finished = True
                    batch.pop()
                results: list[EventRecord | DomainError | None] = [None] * len(batch)
                accepted, positions = [], []
                for position, request in enumerate(batch):
                    try:
                        validate(request)
                        accepted.append((request.session_id, event_from_proto(request.event)))
                        positions.append(position)
                    except DomainError as error:
                        results[position] = error
                for position, result in zip(positions, await self._sessions.append_events(accepted, scope=scope)):
                    results[position] = result
                # A batch's events mostly share one commit time.
                timestamps: dict[str, timestamp_pb2.Timestamp] = {}
                for request, result in zip(batch, results):
                    if isinstance(result, DomainError):
                        yield pb.AppendEventsResponse(error=rpc_status(result))
                        continue
                    if (timestamp := timestamps.get(result.timestamp)) is None:
                        timestamp = timestamps[result.timestamp] = timestamp_proto(result.timestamp)
                    response = pb.AppendEventsResponse()
                    set_stored_event(response.event, request.event, result, timestamp)
                    yield response
        finally:
            receiver.cancel()

    async def WatchSessions(self, request: pb.WatchSessionsRequest, context) -> AsyncIterator[pb.WatchSessionsResponse]:
        async for item in self._sessions.watch(
            request.session_id, request.after_sequence, request.after_feed_sequence, scope=owner_scope()
        ):
            yield feed_item_to_proto(item)
