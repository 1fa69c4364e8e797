"""The JSON objects of an event (tool_input, tool_output, content, payload)
come back in the order their producer sent them: on REST, on /ws and after
a restart. A google.protobuf.Struct is a map, so events sent over gRPC
come back with their keys sorted, the same on every read."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

import grpc
import pytest
import websockets
from google.protobuf import json_format, struct_pb2

from agentruntime.v1 import session_pb2, session_pb2_grpc
from agent_runtime.jsonfmt import message_to_dict, whole_float
from agent_runtime.sessions.event_json import event_body, event_from_json, event_from_proto, event_json
from agent_runtime.sessions.models import EventRecord
from agent_runtime.sessions.servicer import event_to_proto
from conftest import TEST_API_KEY, grpc_metadata, http_client, make_settings, running
from test_live_feed import next_message, ws_url

# Keys neither sorted nor in any hash order a map is likely to produce.
EVENT = {
    "event_type": "post_tool",
    "tool_name": "edit",
    "tool_input": {"zeta": 1, "alpha": 2, "mid": {"b": 1, "a": 2, "c": [{"y": True, "x": None}]}},
    "tool_output": {"stdout": "ok", "exit": 0, "a_list": [3, 2.5, "x"], "b": {"z": {}, "k": "v"}},
    "exit_code": 0,
    "payload": {"w": 1, "e": 2, "q": {"n": 3, "m": 4}},
}
MESSAGE = {
    "event_type": "message",
    "role": "assistant",
    "content": [{"type": "text", "text": "hi", "meta": {"zz": 1, "aa": 2}}, {"z": 1, "type": "custom", "a": 2}],
}


def in_order(value: Any) -> Any:
    """`value` with every object as a list of its (key, value) pairs, so
    that == compares key order too."""
    if isinstance(value, dict):
        return [(key, in_order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [in_order(item) for item in value]
    return value


def assert_as_sent(event: dict, sent: dict) -> None:
    for name in ("tool_input", "tool_output", "payload", "content"):
        if name in sent:
            assert in_order(event[name]) == in_order(sent[name]), (name, event[name])


def new_id() -> str:
    return f"k-{uuid.uuid4().hex[:10]}"


async def stored_events(http, session_id: str) -> list[dict]:
    """The session's events through each REST read, checked to agree."""
    reads = []
    for path in (f"/sessions/{session_id}/events", f"/events/{session_id}", f"/sessions/{session_id}/events?page_size=10"):
        response = await http.get(path)
        assert response.status_code == 200, response.text
        reads.append(response.json()["events"])
    assert all(in_order(read) == in_order(reads[0]) for read in reads)
    return reads[0]


async def ws_replay(runtime, session_id: str, count: int) -> list[dict]:
    url = ws_url(runtime, f"session_id={session_id}&after_sequence=0")
    async with websockets.connect(url, additional_headers={"x-api-key": TEST_API_KEY}) as socket:
        return [(await next_message(socket, skip=("heartbeat", "connected", "init")))["data"] for _ in range(count)]


@pytest.mark.slow
async def test_rest_and_ws_keep_the_order_the_client_sent_across_a_restart(tmp_path):
    settings = make_settings(tmp_path)
    session_id, legacy_id = new_id(), new_id()
    async with running(settings) as runtime, http_client(runtime) as http:
        assert (await http.post("/sessions", json={"session_id": session_id})).status_code == 200
        url = ws_url(runtime, f"session_id={session_id}")
        async with websockets.connect(url, additional_headers={"x-api-key": TEST_API_KEY}) as live:
            await next_message(live, skip=("heartbeat", "connected"))  # init
            for sent in (EVENT, MESSAGE):
                created = await http.post(f"/sessions/{session_id}/events", json=sent)
                assert created.status_code == 200, created.text
                assert_as_sent(created.json()["event"], sent)
                assert_as_sent((await next_message(live))["data"], sent)
        ingested = await http.post("/events", json={**EVENT, "event_type": "session_start", "session_id": legacy_id})
        assert ingested.status_code == 200, ingested.text
        assert_as_sent(ingested.json()["event"], EVENT)
        before = await stored_events(http, session_id)
        for event, sent in zip(before, (EVENT, MESSAGE)):
            assert_as_sent(event, sent)
        for event, sent in zip(await ws_replay(runtime, session_id, 2), (EVENT, MESSAGE)):
            assert_as_sent(event, sent)
    async with running(settings) as runtime, http_client(runtime) as http:
        after = await stored_events(http, session_id)
        assert in_order(after) == in_order(before)
        assert_as_sent((await stored_events(http, legacy_id))[0], EVENT)
        for event, sent in zip(await ws_replay(runtime, session_id, 2), (EVENT, MESSAGE)):
            assert_as_sent(event, sent)


def sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(item) for item in value]
    return value


@pytest.mark.slow
async def test_events_sent_over_grpc_come_back_sorted_across_a_restart(tmp_path):
    settings = make_settings(tmp_path)
    session_id = new_id()
    tool_input = struct_pb2.Struct()
    tool_input.update(EVENT["tool_input"])
    async with running(settings) as runtime, http_client(runtime) as http:
        await http.post("/sessions", json={"session_id": session_id})
        async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
            stub = session_pb2_grpc.SessionServiceStub(channel)
            event = session_pb2.Event(event_type="pre_tool", tool_input=tool_input)
            await stub.CreateEvent(session_pb2.CreateEventRequest(session_id=session_id, event=event), metadata=grpc_metadata())
        first = (await stored_events(http, session_id))[0]["tool_input"]
        assert in_order(first) == in_order(sorted_keys(EVENT["tool_input"]))
    async with running(settings) as runtime, http_client(runtime) as http:
        assert in_order((await stored_events(http, session_id))[0]["tool_input"]) == in_order(first)


@pytest.mark.parametrize(
    "body,detail",
    [
        (b"{not json", ""),
        (b"[1]", ""),
        (b'{"event_type": "pre_tool", "tool_input": {"a": NaN}}', ""),
        (b'{"event_type": "pre_tool", "tool_input": {"a": 1e999}}', ""),
        (b'{"event_type": "pre_tool", "tool_input": "not an object"}', "event.tool_input"),
        (b'{"event_type": "message", "role": "assistant", "content": [1]}', "event.content[0]"),
        (b'{"event_type": "post_tool", "exit_code": "zero"}', "event.exit_code"),
        (b'{"event_type": "post_tool", "exit_code": 1.5}', "event.exit_code"),
        (b'{"event_type": "post_tool", "exit_code": " 7"}', "event.exit_code"),
        (b'{"event_type": "post_tool", "exit_code": 2147483648}', "event.exit_code"),
        (b'{"event_type": "post_tool", "exit_code": true}', "event.exit_code"),
        (b'{"event_type": "pre_tool", "tool_name": 5}', "event.tool_name"),
        (b'{"event_type": "pre_tool", "timestamp": "yesterday"}', "event.timestamp"),
        (b'{"event_type": "Bad Type"}', "event.event_type must match"),
        (b"{}", "event.event_type is required"),
        (b'{"event_type": "message", "role": "robot"}', "event.role must match"),
    ],
)
@pytest.mark.parametrize("route", ["create", "ingest"])
async def test_bad_events_are_refused_as_before(runtime, http, route, body, detail):
    session_id = new_id()
    assert (await http.post("/sessions", json={"session_id": session_id})).status_code == 200
    if route == "ingest" and body.startswith(b'{"'):
        # The same event naming its session: a JSON prefix, as NaN is no Python JSON.
        body = b'{"session_id": "' + session_id.encode() + b'", ' + body[1:]
    path = f"/sessions/{session_id}/events" if route == "create" else "/events"
    response = await http.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["code"] == "BAD_REQUEST" and detail in answer["detail"], answer


async def test_accepted_forms_are_kept(http):
    """What the transcoder accepted stays accepted: JSON names, numbers as
    strings or whole doubles, nulls, unknown and output-only fields."""
    session_id = new_id()
    await http.post("/sessions", json={"session_id": session_id})
    sent = [
        {"eventType": "pre_tool", "toolInput": {"b": 1, "a": 2}},
        {"event_type": "post_tool", "exit_code": "7", "unknown_field": 1, "event_id": "mine", "sequence": 99},
        {"event_type": "post_tool", "exit_code": 3.0, "tool_input": None, "tool_output": None, "payload": None, "content": None},
        {"event_type": "message", "role": "user", "content": {"z": 1, "a": 2}},
    ]
    for event in sent:
        response = await http.post(f"/sessions/{session_id}/events", json=event)
        assert response.status_code == 200, response.text
    first, second, third, fourth = await stored_events(http, session_id)
    assert in_order(first["tool_input"]) == [("b", 1), ("a", 2)] and first["event_type"] == "pre_tool"
    assert second["exit_code"] == 7 and second["event_id"] != "mine" and second["sequence"] == 2
    assert "unknown_field" not in second
    assert third["exit_code"] == 3 and third["tool_output"] is None and third["content"] == []
    assert "tool_input" not in third and "payload" not in third
    # A lone object where a list goes is a list of one.
    assert in_order(fourth["content"]) == [[("z", 1), ("a", 2)]]


STORED_BODIES = [
    {},
    {"tool_name": "bash", "tool_input": {"z": 1, "a": [2.5, None, True, {"y": "s", "b": {}}]}, "exit_code": 0, "error": ""},
    {"tool_output": None, "reason": "done", "role": "user"},
    {"tool_output": [3, "x"], "content": [{"type": "text", "text": "hi"}, {}], "payload": {"k": 12345678901, "f": 0.1}},
    # As the gRPC path stored whole numbers before: read back as integers.
    json.loads('{"tool_input": {"n": 3.0, "big": 1e20, "half": 0.5}}', parse_float=whole_float),
]


@pytest.mark.parametrize("body", STORED_BODIES)
def test_event_json_is_what_the_transcoder_printed_in_stored_order(body):
    record = EventRecord(
        event_id="e-1", session_id="s-1", session_name="name", sequence=4, feed_sequence=123456,
        event_type="post_tool", timestamp="2026-12-03T14:49:27.085000Z", body=body,
    )
    printed = event_json(record)
    assert printed == message_to_dict(event_to_proto(record))
    # Field-number order, as Envoy prints a message (Python's printer puts
    # unset fields last).
    assert list(printed) == [field.name for field in session_pb2.Event.DESCRIPTOR.fields if field.name in printed]
    for name, value in body.items():
        assert in_order(printed[name]) == in_order(value)


@pytest.mark.parametrize("sent", [EVENT, MESSAGE, {"event_type": "x", "tool_output": "text", "timestamp": "2026-01-02T03:04:05.123456789Z"}])
def test_posted_json_is_stored_as_the_grpc_message_would_be_in_the_order_sent(sent):
    message, event = event_from_json(json.dumps(sent).encode())
    typed = json_format.ParseDict(sent, session_pb2.Event())
    assert event.body == event_body(typed) and event.event_type == typed.event_type
    assert event.timestamp == event_from_proto(typed).timestamp
    assert message.event_type == typed.event_type and message.role == typed.role
    for name in ("tool_input", "tool_output", "payload", "content"):
        if name in sent:
            assert in_order(event.body[name]) == in_order(sent[name])


@pytest.mark.parametrize("timestamp", ["2026-12-03T14:49:27.085915Z", "2026-12-03T14:49:27.085000Z", "2026-12-03T14:49:27.000000Z", "2026-12-03T14:49:27+00:00"])
def test_timestamps_print_as_the_transcoder_printed_them(timestamp):
    record = EventRecord(
        event_id="e-1", session_id="s-1", session_name="", sequence=1, feed_sequence=1, event_type="x", timestamp=timestamp, body={},
    )
    assert event_json(record)["timestamp"] == message_to_dict(event_to_proto(record))["timestamp"]


@pytest.mark.slow
async def test_whole_numbers_stored_as_doubles_before_print_as_integers(tmp_path):
    """The gRPC path stored a Struct's 3 as 3.0 before; Envoy printed 3, and
    so does the server's own printing."""
    settings = make_settings(tmp_path)
    session_id = new_id()
    async with running(settings) as runtime, http_client(runtime) as http:
        await http.post("/sessions", json={"session_id": session_id})
        await http.post(f"/sessions/{session_id}/events", json={"event_type": "pre_tool"})
    with sqlite3.connect(tmp_path / "agent-runtime.sqlite3") as database:
        database.execute(
            "UPDATE events SET body = ? WHERE session_id = ?",
            ('{"tool_input":{"n":3.0,"half":0.5,"list":[1.0,2.5]},"session_name":""}', session_id),
        )
    async with running(settings) as runtime, http_client(runtime) as http:
        response = await http.get(f"/sessions/{session_id}/events")
        assert '"tool_input":{"n":3,"half":0.5,"list":[1,2.5]}' in response.text


async def test_event_routes_still_take_json_only(http):
    """They read an HttpBody now, but are no upload routes: other content
    types are 415, as on every JSON route."""
    session_id = new_id()
    await http.post("/sessions", json={"session_id": session_id})
    for path in (f"/sessions/{session_id}/events", "/events"):
        body = json.dumps({"event_type": "pre_tool", "session_id": session_id})
        response = await http.post(path, content=body, headers={"content-type": "text/plain"})
        assert response.status_code == 415 and response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE", response.text
    assert (await http.get(f"/sessions/{session_id}/events")).json()["events"] == []
