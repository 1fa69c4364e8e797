"""`after_sequence=0` means "from the start" on every surface: a client that
has seen no event yet gets everything stored, then live events (an absent
cursor still means live only)."""

from __future__ import annotations


import grpc
import pytest_asyncio
import websockets

from agentruntime.v1 import session_pb2, session_pb2_grpc
from agent_helpers import codelab_session, sse
from conftest import TEST_API_KEY, grpc_metadata, http_client, make_settings, running
from llm_fakes import Reply
from test_live_feed import new_id, next_message, ws_url


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory, fake):
    llm = {"openai_base_url": fake.base_url, "max_retries": 0}
    async with running(make_settings(tmp_path_factory.mktemp("data"), llm=llm)) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def http(runtime):
    async with http_client(runtime) as client:
        yield client


async def session_with_events(http, count: int) -> str:
    session_id = new_id()
    await http.post("/sessions", json={"session_id": session_id})
    for index in range(count):
        await http.post(f"/sessions/{session_id}/events", json={"event_type": "pre_tool", "tool_input": {"i": index}})
    return session_id


async def test_ws_after_sequence_0_replays_every_stored_event(runtime, http):
    session_id = await session_with_events(http, 3)
    query = f"session_id={session_id}&after_sequence=0"
    async with websockets.connect(ws_url(runtime, query), additional_headers={"x-api-key": TEST_API_KEY}) as socket:
        assert (await next_message(socket))["type"] == "connected"
        assert (await next_message(socket))["type"] == "init"
        replayed = [await next_message(socket) for _ in range(3)]
        assert [m["data"]["sequence"] for m in replayed] == [1, 2, 3]
        await http.post(f"/sessions/{session_id}/events", json={"event_type": "pre_tool", "tool_input": {"i": 3}})
        assert (await next_message(socket))["data"]["sequence"] == 4


async def test_ws_without_a_cursor_is_live_only(runtime, http):
    session_id = await session_with_events(http, 2)
    async with websockets.connect(ws_url(runtime, f"session_id={session_id}"), additional_headers={"x-api-key": TEST_API_KEY}) as socket:
        assert (await next_message(socket))["type"] == "connected"
        assert (await next_message(socket))["type"] == "init"
        await http.post(f"/sessions/{session_id}/events", json={"event_type": "pre_tool", "tool_input": {"i": 2}})
        assert (await next_message(socket))["data"]["sequence"] == 3


async def test_grpc_watch_with_after_sequence_0_replays_every_stored_event(runtime, http):
    session_id = await session_with_events(http, 3)
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        for request, expected in (
            (session_pb2.WatchSessionsRequest(session_id=session_id, after_sequence=0), [1, 2, 3]),
            (session_pb2.WatchSessionsRequest(after_feed_sequence=0), None),
        ):
            call = stub.WatchSessions(request, metadata=grpc_metadata())
            assert (await call.read()).type == "init"
            if expected is not None:
                assert [(await call.read()).data.sequence for _ in expected] == expected
            else:
                # The all-sessions feed from its start: this module's first session first.
                first = await call.read()
                assert first.type == "event" and first.data.feed_sequence == 1
            call.cancel()


async def test_sse_run_stream_after_sequence_0_replays_the_whole_run(runtime, http, fake, tmp_path):
    from agent_helpers import git_project

    session_id = await codelab_session(http, git_project(tmp_path / "project"))
    fake.add(Reply(text="All done"))
    first = await sse(http, "/agent/message/stream", {"session_id": session_id, "message": {"type": "user_message", "content": "hi"}})
    runs = f"/agent/runs/{first[-1]['task_id']}/stream"
    assert await sse(http, runs, params={"after_sequence": 0}) == first
