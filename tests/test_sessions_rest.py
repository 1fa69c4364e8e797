"""The session-event document, endpoint by endpoint, through Envoy."""

from __future__ import annotations

import datetime
import uuid

import pytest


def new_id() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


def is_iso(text: str) -> bool:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None


async def create(http, session_id: str, **fields) -> dict:
    response = await http.post("/sessions", json={"session_id": session_id, "session_name": f"name {session_id}", **fields})
    assert response.status_code == 200, response.text
    return response.json()


async def post_event(http, session_id: str, event: dict) -> dict:
    response = await http.post(f"/sessions/{session_id}/events", json=event)
    assert response.status_code == 200, response.text
    return response.json()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert {"detail", "code", "timestamp"} <= set(body) <= {"detail", "code", "timestamp", "errors"}, body
    assert body["code"] == code and body["detail"] and is_iso(body["timestamp"])
    return body


async def test_create_session_returns_documented_shape(http):
    session_id = new_id()
    body = await create(http, session_id, project_dir="/path/to/project", agent_name="researcher")
    assert body["ok"] is True
    session = body["session"]
    assert session["session_id"] == session_id
    assert session["session_name"] == f"name {session_id}"
    assert session["status"] == "running"
    assert session["project_dir"] == "/path/to/project"
    assert session["agent_name"] == "researcher"
    assert is_iso(session["created_at"])
    assert session["event_count"] == 0 and session["last_sequence"] == 0


async def test_optional_fields_are_absent_when_not_given(http):
    session = (await create(http, new_id()))["session"]
    assert "project_dir" not in session and "agent_name" not in session and "last_resumed_at" not in session


async def test_duplicate_session_is_409(http):
    session_id = new_id()
    await create(http, session_id)
    body = assert_error(await http.post("/sessions", json={"session_id": session_id}), 409, "ALREADY_EXISTS")
    assert body["detail"] == "Session already exists"


async def test_list_and_get_sessions(http):
    first, second = new_id(), new_id()
    await create(http, first)
    await create(http, second)
    listed = (await http.get("/sessions")).json()
    assert set(listed) >= {"sessions"}
    ids = [s["session_id"] for s in listed["sessions"]]
    assert first in ids and second in ids
    got = await http.get(f"/sessions/{first}")
    assert got.status_code == 200
    assert got.json()["session"]["session_id"] == first


async def test_list_sessions_pages(http):
    for _ in range(3):
        await create(http, new_id())
    seen, token = [], ""
    while True:
        page = (await http.get("/sessions", params={"page_size": 2, "page_token": token})).json()
        assert len(page["sessions"]) <= 2
        seen += [s["session_id"] for s in page["sessions"]]
        token = page["next_page_token"]
        if not token:
            break
    everything = [s["session_id"] for s in (await http.get("/sessions")).json()["sessions"]]
    assert seen == everything and len(set(seen)) == len(seen)


async def test_unknown_session_is_404_on_every_session_route(http):
    missing = new_id()
    for method, path, body in [
        ("GET", f"/sessions/{missing}", None),
        ("GET", f"/sessions/{missing}/result", None),
        ("PATCH", f"/sessions/{missing}/metadata", {"session_name": "x"}),
        ("DELETE", f"/sessions/{missing}", None),
        ("GET", f"/sessions/{missing}/events", None),
        ("GET", f"/events/{missing}", None),
        ("POST", f"/sessions/{missing}/events", {"event_type": "pre_tool"}),
    ]:
        response = await http.request(method, path, json=body)
        assert_error(response, 404, "SESSION_NOT_FOUND")


async def test_status_running_finished_and_not_existent(http):
    session_id = new_id()
    assert (await http.get(f"/sessions/{session_id}/status")).json() == {"status": "not_existent"}
    await create(http, session_id)
    assert (await http.get(f"/sessions/{session_id}/status")).json() == {"status": "running"}
    await post_event(http, session_id, {"event_type": "session_stop", "reason": "done"})
    assert (await http.get(f"/sessions/{session_id}/status")).json() == {"status": "finished"}


async def test_result_is_last_assistant_text_and_400_before_finished(http):
    session_id = new_id()
    await create(http, session_id)
    await post_event(http, session_id, {"event_type": "message", "role": "assistant", "content": [{"type": "text", "text": "first"}]})
    assert_error(await http.get(f"/sessions/{session_id}/result"), 400, "SESSION_NOT_FINISHED")
    await post_event(
        http,
        session_id,
        {
            "event_type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "The answer "}, {"type": "tool_use", "id": "t"}, {"type": "text", "text": "is 42."}],
        },
    )
    await post_event(http, session_id, {"event_type": "message", "role": "user", "content": [{"type": "text", "text": "thanks"}]})
    await post_event(http, session_id, {"event_type": "session_stop"})
    result = await http.get(f"/sessions/{session_id}/result")
    assert result.status_code == 200
    assert result.json() == {"result": "The answer is 42."}


async def test_events_listed_by_timestamp_and_result_is_the_newest(http):
    """Clients may post timestamps out of order (concurrent hooks,
    backfills): the list is by timestamp, the result the newest answer;
    cursors keep log order."""
    session_id = new_id()
    await create(http, session_id)

    def said(text: str, at: str) -> dict:
        return {"event_type": "message", "role": "assistant", "timestamp": at, "content": [{"type": "text", "text": text}]}

    await post_event(http, session_id, said("later", "2024-01-01T00:00:10Z"))
    await post_event(http, session_id, said("earlier", "2024-01-01T00:00:05Z"))
    await post_event(http, session_id, said("same second, posted last", "2024-01-01T00:00:10Z"))
    for path in (f"/sessions/{session_id}/events", f"/events/{session_id}"):
        listed = (await http.get(path)).json()["events"]
        assert [e["content"][0]["text"] for e in listed] == ["earlier", "later", "same second, posted last"], path
    paged = (await http.get(f"/sessions/{session_id}/events", params={"after_sequence": 1})).json()["events"]
    assert [e["sequence"] for e in paged] == [2, 3]
    await post_event(http, session_id, {"event_type": "session_stop", "timestamp": "2024-01-01T00:00:11Z"})
    assert (await http.get(f"/sessions/{session_id}/result")).json() == {"result": "same second, posted last"}


async def test_patch_metadata_updates_and_needs_a_field(http):
    session_id = new_id()
    await create(http, session_id)
    response = await http.patch(f"/sessions/{session_id}/metadata", json={"session_name": "New Name", "project_dir": "/new/path"})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["session"]["session_name"] == "New Name"
    assert body["session"]["project_dir"] == "/new/path"
    response = await http.patch(f"/sessions/{session_id}/metadata", json={"agent_name": "new-agent"})
    assert response.json()["session"]["agent_name"] == "new-agent"
    assert response.json()["session"]["session_name"] == "New Name"
    body = assert_error(await http.patch(f"/sessions/{session_id}/metadata", json={}), 400, "BAD_REQUEST")
    assert "at least one" in body["detail"].lower()


async def test_delete_reports_events_count(http):
    session_id = new_id()
    await create(http, session_id)
    for index in range(3):
        await post_event(http, session_id, {"event_type": "pre_tool", "tool_name": "Bash", "tool_input": {"n": index}})
    response = await http.delete(f"/sessions/{session_id}")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "session_id": session_id, "deleted": {"session": True, "events_count": 3}}
    assert (await http.get(f"/sessions/{session_id}")).status_code == 404
    assert (await http.get(f"/sessions/{session_id}/status")).json() == {"status": "not_existent"}


async def test_events_round_trip_with_all_fields_oldest_first(http):
    session_id = new_id()
    await create(http, session_id)
    events = [
        {"event_type": "session_start"},
        {"event_type": "pre_tool", "tool_name": "Bash", "tool_input": {"command": "ls", "timeout": 5}},
        {
            "event_type": "post_tool",
            "tool_name": "Bash",
            "tool_input": {"command": "ls"},
            "tool_output": ["a.py", "b.py"],
            "error": "",
            "exit_code": 0,
        },
        {"event_type": "message", "role": "user", "content": [{"type": "text", "text": "hi"}], "payload": {"k": [1, True]}},
    ]
    answers = []
    for event in events:
        answer = await post_event(http, session_id, event)
        assert answer["ok"] is True
        answers.append(answer["event"])
    for path in (f"/sessions/{session_id}/events", f"/events/{session_id}"):
        listed = (await http.get(path)).json()["events"]
        # Each answer is the event as stored, field for field.
        assert listed == answers
        assert [e["event_type"] for e in listed] == [e["event_type"] for e in events]
        assert [e["sequence"] for e in listed] == [1, 2, 3, 4]
        timestamps = [e["timestamp"] for e in listed]
        assert timestamps == sorted(timestamps) and all(is_iso(t) for t in timestamps)
        assert all(e["session_id"] == session_id and e["session_name"] == f"name {session_id}" for e in listed)
        assert listed[1]["tool_input"] == {"command": "ls", "timeout": 5}
        assert listed[2]["tool_output"] == ["a.py", "b.py"] and listed[2]["exit_code"] == 0
        assert listed[3]["content"] == [{"type": "text", "text": "hi"}] and listed[3]["payload"] == {"k": [1, True]}
        assert len({e["event_id"] for e in listed}) == 4


async def test_more_than_a_hundred_events_are_all_returned_and_page(http):
    session_id = new_id()
    await create(http, session_id)
    for index in range(130):
        await post_event(http, session_id, {"event_type": "pre_tool", "tool_input": {"i": index}})
    listed = (await http.get(f"/sessions/{session_id}/events")).json()
    assert [e["tool_input"]["i"] for e in listed["events"]] == list(range(130))
    page = (await http.get(f"/sessions/{session_id}/events", params={"page_size": 50})).json()
    assert len(page["events"]) == 50 and page["next_page_token"]
    after = (await http.get(f"/sessions/{session_id}/events", params={"after_sequence": 125})).json()
    assert [e["sequence"] for e in after["events"]] == [126, 127, 128, 129, 130]


async def test_session_stop_finishes_and_session_start_resumes(http):
    session_id = new_id()
    await create(http, session_id)
    await post_event(http, session_id, {"event_type": "session_stop"})
    await post_event(http, session_id, {"event_type": "session_start"})
    session = (await http.get(f"/sessions/{session_id}")).json()["session"]
    assert session["status"] == "running" and is_iso(session["last_resumed_at"])


async def test_legacy_post_events_creates_session_on_start(http):
    session_id = new_id()
    response = await http.post("/events", json={"event_type": "session_start", "session_id": session_id, "session_name": "legacy"})
    assert response.status_code == 200 and response.json()["ok"] is True
    session = (await http.get(f"/sessions/{session_id}")).json()["session"]
    assert session["session_name"] == "legacy" and session["status"] == "running"
    await http.post("/events", json={"event_type": "session_stop", "session_id": session_id})
    assert (await http.get(f"/sessions/{session_id}/status")).json() == {"status": "finished"}
    assert_error(await http.post("/events", json={"event_type": "pre_tool", "session_id": new_id()}), 404, "SESSION_NOT_FOUND")


async def test_root_and_health_are_open(runtime):
    import httpx

    async with httpx.AsyncClient(base_url=runtime.http_url) as anonymous:
        health = await anonymous.get("/health")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "healthy" and is_iso(body["timestamp"])
        assert body["dependencies"]["database"] == "connected"
        assert {"service", "version", "metrics", "multi_agent", "uptime_seconds"} <= set(body)
        root = await anonymous.get("/")
        assert root.status_code == 200
        assert root.json() == {"name": "Agent Runtime", "version": body["version"], "status": "running"}


@pytest.mark.parametrize(
    "method,path,body,status,code",
    [
        ("POST", "/sessions", b"{not json", 400, "BAD_REQUEST"),
        ("POST", "/sessions", b'{"session_id": 5}', 400, "BAD_REQUEST"),
        ("POST", "/sessions", b'{"session_id": ["a"]}', 400, "BAD_REQUEST"),
        ("POST", "/sessions", b"{}", 400, "BAD_REQUEST"),
        ("POST", "/sessions", b'{"session_id": "has space"}', 400, "BAD_REQUEST"),
        ("POST", "/sessions", b'{"session_id": "' + b"x" * 300 + b'"}', 400, "BAD_REQUEST"),
        ("POST", "/events", b'{"session_id": "x"}', 400, "BAD_REQUEST"),
        ("POST", "/events", b'{"event_type": "message", "session_id": "x", "role": "robot"}', 400, "BAD_REQUEST"),
        ("GET", "/sessions?page_size=abc", None, 400, "BAD_REQUEST"),
        ("GET", "/no/such/route", None, 404, "NOT_FOUND"),
    ],
)
async def test_bad_input_gets_a_4xx_error_body(http, method, path, body, status, code):
    response = await http.request(method, path, content=body, headers={"content-type": "application/json"})
    assert_error(response, status, code)


async def test_wrong_type_in_event_body(http):
    session_id = new_id()
    await create(http, session_id)
    response = await http.post(f"/sessions/{session_id}/events", json={"event_type": "pre_tool", "tool_input": "not an object"})
    assert_error(response, 400, "BAD_REQUEST")
    response = await http.post(f"/sessions/{session_id}/events", json={"event_type": "post_tool", "exit_code": "zero"})
    assert_error(response, 400, "BAD_REQUEST")


async def test_oversized_body_is_413(http, runtime):
    payload = b'{"session_id": "big", "session_name": "' + b"x" * (runtime.settings.server.max_request_bytes + 10) + b'"}'
    response = await http.post("/sessions", content=payload, headers={"content-type": "application/json"})
    body = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert str(runtime.settings.server.max_request_bytes) in body["detail"]
    assert (await http.get("/health")).status_code == 200


async def test_credentials_required(runtime):
    import httpx

    async with httpx.AsyncClient(base_url=runtime.http_url) as anonymous:
        assert_error(await anonymous.get("/sessions"), 401, "UNAUTHORIZED")
        assert_error(await anonymous.get("/sessions", headers={"x-api-key": "wrong"}), 401, "UNAUTHORIZED")


async def test_cors_preflight_and_headers(http):
    preflight = await http.options(
        "/sessions",
        headers={"origin": "http://localhost:5173", "access-control-request-method": "POST", "access-control-request-headers": "content-type,x-api-key"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    simple = await http.get("/sessions", headers={"origin": "http://localhost:3000"})
    assert simple.headers["access-control-allow-origin"] == "http://localhost:3000"
    foreign = await http.get("/sessions", headers={"origin": "http://evil.example"})
    assert "access-control-allow-origin" not in foreign.headers
    refused = await http.options("/api/sessions", headers={"origin": "http://evil.example", "access-control-request-method": "POST"})
    body = assert_error(refused, 403, "FORBIDDEN")
    assert "CORS_ORIGINS" in body["detail"] and "access-control-allow-origin" not in refused.headers


async def test_request_id_is_echoed(http):
    response = await http.get("/sessions", headers={"x-request-id": "req-abc-123"})
    assert response.headers["x-request-id"] == "req-abc-123"
