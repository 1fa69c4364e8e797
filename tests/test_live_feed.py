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

        await http.patch(f"/sessions/{session_id}/metadata", json={"agent_name": "coder"})
        updated = await next_message(socket)
        assert updated["type"] == "session_updated" and updated["session"]["agent_name"] == "coder"

        await http.post(f"/sessions/{session_id}/events", json={"event_type": "session_stop"})
        stop_event = await next_message(socket)
        status_change = await next_message(socket)
        assert stop_event["type"] == "event" and stop_event["data"]["event_type"] == "session_stop"
        assert status_change["type"] == "session_updated" and status_change["session"]["status"] == "finished"

        await http.delete(f"/sessions/{session_id}")
        assert await next_message(socket) == {"type": "session_deleted", "session_id": session_id}


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
