"""Model tokens reach subscribers as they arrive: the relay on its own (no
server), then a codelab SSE client through Envoy that sees the first token
while the scripted model is still holding the rest of its answer."""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_asyncio

from agent_runtime.agents.token_relay import TokenRelay
from agent_helpers import codelab_session, sse
from conftest import http_client, make_settings, running
from llm_fakes import Call, Reply


class Store:
    """An emit target whose writes can be held open, like a slow commit."""

    def __init__(self):
        self.written: list[str] = []
        self.open = asyncio.Event()
        self.open.set()
        self.failure: Exception | None = None

    async def emit(self, text: str) -> None:
        await self.open.wait()
        if self.failure is not None:
            raise self.failure
        self.written.append(text)


async def test_an_idle_store_gets_one_event_per_token():
    store = Store()
    relay = TokenRelay(store.emit)
    for token in ["Hel", "lo", " there"]:
        relay.push(token)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert store.written[-1] == token
    await relay.close()
    assert store.written == ["Hel", "lo", " there"]


async def test_tokens_arriving_during_a_write_go_out_together_in_order():
    store = Store()
    store.open.clear()
    relay = TokenRelay(store.emit)
    relay.push("a")
    await asyncio.sleep(0)
    for token in ["b", "c", "d"]:
        relay.push(token)
    store.open.set()
    await relay.close()
    assert store.written == ["a", "bcd"]


async def test_a_failed_write_is_raised_to_the_reader():
    store = Store()
    store.failure = RuntimeError("disk full")
    relay = TokenRelay(store.emit)
    relay.push("a")
    with pytest.raises(RuntimeError, match="disk full"):
        await relay.close()
    with pytest.raises(RuntimeError, match="disk full"):
        relay.push("b")


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory, fake):
    llm = {"openai_base_url": fake.base_url, "max_retries": 0, "timeout_seconds": 10}
    async with running(make_settings(tmp_path_factory.mktemp("data"), llm=llm)) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def http(runtime):
    async with http_client(runtime) as client:
        yield client


@pytest.mark.slow
async def test_the_first_token_reaches_an_sse_client_before_the_model_finishes(http, fake, project):
    session_id = await codelab_session(http, project)
    hold = asyncio.Event()
    fake.add(
        Reply(tool_calls=[Call("switch_agent", {"agent_type": "ask", "reason": "a question"}, id="s1")]),
        Reply(text="The answer is 42", hold=hold),
    )
    body = {"session_id": session_id, "message": {"type": "user_message", "content": "What is the answer?"}}
    seen: list[dict] = []
    async with http.stream("POST", "/agent/message/stream", json=body, timeout=20) as response:
        lines = response.aiter_lines()

        async def next_event() -> dict:
            async for line in lines:
                if line.startswith("data: "):
                    return json.loads(line[len("data: ") :])
            raise AssertionError(f"the stream ended after {seen}")

        while not seen or seen[-1]["type"] != "assistant_message":
            seen.append(await asyncio.wait_for(next_event(), 5))
        # The model has sent only its first piece and holds the rest.
        assert seen[-1]["token"] == "The ans" and not hold.is_set()
        hold.set()
        while seen[-1]["type"] != "done":
            seen.append(await asyncio.wait_for(next_event(), 5))
    assert "".join(e["token"] for e in seen if e["type"] == "assistant_message") == "The answer is 42"
    assert seen[-1]["status"] == "completed"
    # Sent at once and stored as sent: a replay from the start is the same.
    replay = await sse(http, f"/agent/runs/{seen[-1]['task_id']}/stream")
    assert replay == seen
