"""The /ws live feed through Envoy and the bridge, reconnects with
after_sequence, and data surviving a restart."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets

from conftest import TEST_API_KEY, http_client, make_settings, running


def ws_url(runtime, query: str = "") -> str:
    return runtime.http_url.replace("http://", "ws://") + "/ws" + (f"?{query}" if query else "")


async def next_message(socket, *, skip=("heartbeat",), timeout: float = 5.0) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        if message["type"] not in skip:
            return message


def new_id() -> str:
    return f"w-{uuid.uuid4().hex[:10]}"


async def test_feed_sends_connected_init_then_every_change(runtime, http):
    existing = new_id()
    await http.post("/sessions", json={"session_id": existing, "session_name": "before"})
    async with websockets.connect(ws_url(runtime), additional_headers={"x-api-key": TEST_API_KEY}) as socket:
        connected = await next_message(socket)
        assert connected["type"] == "connected"
        init = await next_message(socket)
        assert init["type"] == "init"
        assert existing in [s["session_id"] for s in init["sessions"]]

        session_id = new_id()
        await http.post("/sessions", json={"session_id": session_id, "session_name": "live"})
        created = await next_message(socket)
        assert created == {"type": "session_created", "session": created["session"]}
        assert created["session"]["session_id"] == session_id and created["session"]["status"] == "running"

        await http.post(f"/sessions/{session_id}/events", json={"event_type": "pre_tool", "tool_name": "Read", "tool_input": {"path": "a"}})
        event = await next_message(socket)
        assert event["type"] == "event"
        assert event["data"]["event_type"] == "pre_tool" and event["data"]["tool_input"] == {"path": "a"}
        assert event["data"]["session_id"] == session_id and event["data"]["sequence"] == 1
        # A stable numeric id, the same as REST prints.
        listed = (await http.get(f"/sessions/{session_id}/events")).json()["events"]
        assert isinstance(event["data"]["id"], int) and event["data"]["id"] == listed[0]["id"] > 0

        await http.patch(f"/sessions/{session_id}/metadata", json={"agent_name": "coder"})
        updated = await next_message(socket)
        assert updated["type"] == "session_updated" and updated["session"]["agent_name"] == "coder"

        # The session's new state first, then the event (as the session-event
        # server sends them; its frontend's "stopped" badge relies on it).
        await http.post(f"/sessions/{session_id}/events", json={"event_type": "session_stop", "exit_code": 2})
        status_change = await next_message(socket)
        stop_event = await next_message(socket)
        assert stop_event["type"] == "event" and stop_event["data"]["event_type"] == "session_stop"
        assert status_change["type"] == "session_updated" and status_change["session"]["status"] == "finished"

        await http.delete(f"/sessions/{session_id}")
        assert await next_message(socket) == {"type": "session_deleted", "session_id": session_id}


async def test_feed_prints_events_exactly_as_rest_does(runtime, http):
    """Numbers keep their JSON type on /ws: 3 stays 3 (protobuf carries
    Struct numbers as doubles; Envoy prints whole ones as integers)."""
    session_id = new_id()
    await http.post("/sessions", json={"session_id": session_id})
    async with websockets.connect(ws_url(runtime, f"session_id={session_id}"), additional_headers={"x-api-key": TEST_API_KEY}) as socket:
        sent = {"event_type": "post_tool", "tool_name": "Count", "tool_input": {"n": 3, "big": 12345678901}, "tool_output": [1, 2.5, "x"], "exit_code": 0}
        posted = (await http.post(f"/sessions/{session_id}/events", json=sent)).json()["event"]
        live = await next_message(socket, skip=("heartbeat", "connected", "init"))
    assert live["data"] == posted
    assert json.dumps(live["data"]["tool_input"], sort_keys=True) == '{"big": 12345678901, "n": 3}'
    assert json.dumps(live["data"]["tool_output"]) == '[1, 2.5, "x"]'


async def test_heartbeat_carries_metrics(runtime):
    async with websockets.connect(ws_url(runtime), additional_headers={"x-api-key": TEST_API_KEY}) as socket:
        heartbeat = await next_message(socket, skip=("connected", "init"), timeout=5)
        assert heartbeat["type"] == "heartbeat"
        assert {"gpu_utilization", "memory_usage", "active_tasks"} <= set(heartbeat["metrics"])


async def test_reconnect_with_after_sequence_gets_exactly_the_missed_events(runtime, http):
    session_id = new_id()
    await http.post("/sessions", json={"session_id": session_id})
    for index in range(5):
        await http.post(f"/sessions/{session_id}/events", json={"event_type": "pre_tool", "tool_input": {"i": index}})
    query = f"session_id={session_id}&after_sequence=3"
    async with websockets.connect(ws_url(runtime, query), additional_headers={"x-api-key": TEST_API_KEY}) as socket:
        assert (await next_message(socket))["type"] == "connected"
        init = await next_message(socket)
        assert [s["session_id"] for s in init["sessions"]] == [session_id]
        replayed = [await next_message(socket) for _ in range(2)]
        assert [m["data"]["sequence"] for m in replayed] == [4, 5]
        await http.post(f"/sessions/{session_id}/events", json={"event_type": "pre_tool", "tool_input": {"i": 5}})
        live = await next_message(socket)
        assert live["data"]["sequence"] == 6 and live["data"]["tool_input"] == {"i": 5}


async def test_token_in_query_and_missing_credentials(runtime):
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await websockets.connect(ws_url(runtime))
    assert refused.value.response.status_code == 401
    body = json.loads(refused.value.response.body)
    assert body["code"] == "UNAUTHORIZED"


async def test_bad_feed_parameters_are_400(runtime):
    for query in ("after_sequence=-1&session_id=x", "after_sequence=abc&session_id=x", "after_sequence=2"):
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            await websockets.connect(ws_url(runtime, query), additional_headers={"x-api-key": TEST_API_KEY})
        assert refused.value.response.status_code == 400, query
        assert json.loads(refused.value.response.body)["code"] == "BAD_REQUEST"


async def test_unknown_session_feed_is_404(runtime):
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await websockets.connect(ws_url(runtime, "session_id=nope-nope&after_sequence=1"), additional_headers={"x-api-key": TEST_API_KEY})
    assert refused.value.response.status_code == 404


@pytest.mark.slow
async def test_data_and_resume_survive_a_restart(tmp_path):
    settings = make_settings(tmp_path)
    session_id = new_id()
    async with running(settings) as first:
        async with http_client(first) as http:
            await http.post("/sessions", json={"session_id": session_id, "project_dir": "/p"})
            for index in range(3):
                await http.post(f"/sessions/{session_id}/events", json={"event_type": "pre_tool", "tool_input": {"i": index}})
    async with running(settings) as second:
        async with http_client(second) as http:
            session = (await http.get(f"/sessions/{session_id}")).json()["session"]
            assert session["project_dir"] == "/p" and session["event_count"] == 3 and session["last_sequence"] == 3
            await http.post(f"/sessions/{session_id}/events", json={"event_type": "pre_tool", "tool_input": {"i": 3}})
            events = (await http.get(f"/sessions/{session_id}/events")).json()["events"]
            assert [e["sequence"] for e in events] == [1, 2, 3, 4]
            query = f"session_id={session_id}&after_sequence=2"
            async with websockets.connect(ws_url(second, query), additional_headers={"x-api-key": TEST_API_KEY}) as socket:
                await next_message(socket)
                await next_message(socket)
                replayed = [await next_message(socket) for _ in range(2)]
                assert [m["data"]["tool_input"]["i"] for m in replayed] == [2, 3]


async def _connect_live(runtime, session_id: str) -> websockets.ClientConnection:
    socket = await websockets.connect(
        ws_url(runtime, f"session_id={session_id}"), additional_headers={"x-api-key": TEST_API_KEY}, max_size=None
    )
    assert (await next_message(socket))["type"] == "connected"
    assert (await next_message(socket))["type"] == "init"
    return socket


async def _events(socket, count: int, timeout: float = 10.0) -> list[dict]:
    return [(await next_message(socket, timeout=timeout))["data"] for _ in range(count)]


async def test_live_clients_of_one_session_each_get_every_event_in_order(runtime, http):
    """Live clients with the same credentials share one upstream feed: each
    still gets its own init and every event after it, in order, and clients
    leaving or joining do not disturb the others."""
    session_id = new_id()
    await http.post("/sessions", json={"session_id": session_id})
    sockets = [await _connect_live(runtime, session_id) for _ in range(12)]
    for index in range(5):
        await http.post(f"/sessions/{session_id}/events", json={"event_type": "pre_tool", "tool_input": {"i": index}})
    for socket in sockets:
        assert [(e["sequence"], e["tool_input"]["i"]) for e in await _events(socket, 5)] == [(i + 1, i) for i in range(5)]

    await sockets.pop(0).close()
    late = await websockets.connect(ws_url(runtime, f"session_id={session_id}"), additional_headers={"x-api-key": TEST_API_KEY})
    assert (await next_message(late))["type"] == "connected"
    assert (await next_message(late))["sessions"][0]["last_sequence"] == 5
    await http.post(f"/sessions/{session_id}/events", json={"event_type": "pre_tool"})
    # Each client leaves right after its event, while the next still reads;
    # the closing handshakes (up to websockets' 10 s close timeout each
    # through the bridge) complete together.
    closing = []
    for socket in [*sockets, late]:
        assert [e["sequence"] for e in await _events(socket, 1)] == [6]
        closing.append(asyncio.create_task(socket.close()))
    await asyncio.gather(*closing)

    # With every client gone, a new one starts a new shared feed.
    again = await _connect_live(runtime, session_id)
    await http.post(f"/sessions/{session_id}/events", json={"event_type": "session_stop"})
    assert (await next_message(again))["type"] == "session_updated"
    assert [e["sequence"] for e in await _events(again, 1)] == [7]
    await again.close()


async def test_a_client_that_stops_reading_delays_only_itself(runtime, http, channel, monkeypatch):
    """A client that reads nothing falls behind the shared feed; the others
    keep getting events at once, and it later gets every event exactly once,
    in order (resumed from storage where it stopped)."""
    from agent_runtime.gateway import shared_feed
    from agentruntime.v1 import session_pb2, session_pb2_grpc

    from conftest import grpc_metadata

    monkeypatch.setattr(shared_feed, "MEMBER_BACKLOG", 4)
    session_id = new_id()
    await http.post("/sessions", json={"session_id": session_id})
    reader = await _connect_live(runtime, session_id)
    stalled = await _connect_live(runtime, session_id)
    # 200 events of 100 KB: more than the socket and Envoy buffers hold,
    # so sending to the stalled client blocks and its queue overflows.
    blob = "x" * 100_000

    def requests():
        for index in range(200):
            event = session_pb2.Event(event_type="pre_tool", tool_name=str(index))
            event.payload.update({"blob": blob})
            yield session_pb2.AppendEventsRequest(session_id=session_id, event=event)

    stub = session_pb2_grpc.SessionServiceStub(channel)
    acknowledgements = [ack async for ack in stub.AppendEvents(requests(), metadata=grpc_metadata())]
    assert all(ack.HasField("event") for ack in acknowledgements)
    received = await _events(reader, 200)
    assert [e["sequence"] for e in received] == list(range(1, 201))
    late = await _events(stalled, 200, timeout=30)
    assert [(e["sequence"], e["tool_name"]) for e in late] == [(i + 1, str(i)) for i in range(200)]
    await http.post(f"/sessions/{session_id}/events", json={"event_type": "session_stop"})
    assert (await next_message(stalled))["type"] == "session_updated"
    assert [e["sequence"] for e in await _events(stalled, 1)] == [201]
    await reader.close()
    await stalled.close()


@pytest.mark.parametrize("size", [30, 125, 126, 65_535, 65_536, 200_000])
def test_a_feed_frame_is_one_whole_text_message_to_a_client(size):
    """The shared feed frames each message once and writes those bytes to
    every client: a client's own parser reads them as the message, whatever
    its length's encoding (7, 16 or 64 bits)."""
    from websockets.client import ClientProtocol
    from websockets.frames import Opcode
    from websockets.protocol import State
    from websockets.uri import parse_uri

    from agent_runtime.gateway.shared_feed import text_frame

    message = b'{"type": "event", "data": "' + b"x" * (size - 29) + b'"}'
    assert len(message) == size and json.loads(message)
    client = ClientProtocol(parse_uri("ws://localhost/ws"), state=State.OPEN)
    client.receive_data(text_frame(message))
    [frame] = client.events_received()
    assert (frame.opcode, frame.fin, bytes(frame.data)) == (Opcode.TEXT, True, message)
