"""The LLM layer against scripted servers speaking the real wire formats,
through the official SDK clients."""

from __future__ import annotations


import pytest

from agent_runtime.config import LLMSettings
from agent_runtime.llm.base import ChatMessage, Completion, LLMError, TokenDelta, ToolCall, ToolSpec
from agent_runtime.llm.registry import ProviderRegistry
from agent_runtime.errors import FailedPrecondition
from llm_fakes import Call, FakeAnthropic, FakeOpenAI, Reply

READ = ToolSpec("read_file", "Read a file", {"type": "object", "properties": {"path": {"type": "string"}}})


def config(**values) -> LLMSettings:
    return LLMSettings(**{"timeout_seconds": 5, "max_retries": 2, **values})


async def collect(provider, model, messages, tools=()):
    tokens, completion = [], None
    async for event in provider.stream(model, messages, list(tools), max_tokens=100):
        if isinstance(event, TokenDelta):
            tokens.append(event.text)
        else:
            assert isinstance(event, Completion) and completion is None
            completion = event
    return tokens, completion


async def test_openai_streams_tokens_and_tool_calls():
    async with FakeOpenAI([Reply(text="Let me look at the file.", tool_calls=[Call("read_file", {"path": "a.py"}), Call("read_file", {"path": "b.py"})])]) as fake:
        registry = ProviderRegistry.from_config(config(openai_base_url=fake.base_url))
        provider, model = await registry.resolve("gpt-4o")
        assert provider.info.id == "openai"
        tokens, completion = await collect(provider, model, [ChatMessage("system", "be brief"), ChatMessage("user", "hi")], [READ])
    assert len(tokens) > 1 and "".join(tokens) == "Let me look at the file."
    assert completion.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in completion.tool_calls] == [("read_file", {"path": "a.py"}), ("read_file", {"path": "b.py"})]
    sent = fake.requests[0]
    assert sent["stream"] is True and sent["model"] == "gpt-4o"
    assert sent["tools"][0]["function"]["name"] == "read_file"
    assert sent["messages"][0] == {"role": "system", "content": "be brief"}


async def test_openai_sends_tool_history_in_wire_format():
    async with FakeOpenAI([Reply(text="ok")]) as fake:
        provider, model = await ProviderRegistry.from_config(config(openai_base_url=fake.base_url)).resolve("gpt-4o")
        history = [
            ChatMessage("user", "read a"),
            ChatMessage("assistant", "", tool_calls=[ToolCall("call_1", "read_file", {"path": "a"})]),
            ChatMessage("tool", "contents", tool_call_id="call_1", tool_name="read_file"),
        ]
        _, completion = await collect(provider, model, history, [READ])
    assert completion.text == "ok" and completion.finish_reason == "stop" and completion.tool_calls == []
    messages = fake.requests[0]["messages"]
    assert messages[1]["tool_calls"][0]["function"] == {"name": "read_file", "arguments": '{"path": "a"}'}
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": "contents"}


async def test_openai_bad_tool_arguments_are_reported_not_raised():
    async with FakeOpenAI([Reply(tool_calls=[Call("read_file", '{"path": ')])]) as fake:
        provider, model = await ProviderRegistry.from_config(config(openai_base_url=fake.base_url)).resolve("gpt-4o")
        _, completion = await collect(provider, model, [ChatMessage("user", "x")], [READ])
    assert completion.tool_calls[0].arguments_error and "not valid JSON" in completion.tool_calls[0].arguments_error


async def test_openai_retries_429_and_5xx_then_succeeds():
    script = [
        Reply(status=429, headers={"retry-after-ms": "10"}),
        Reply(status=503, headers={"retry-after-ms": "10"}),
        Reply(text="finally"),
    ]
    async with FakeOpenAI(script) as fake:
        provider, model = await ProviderRegistry.from_config(config(openai_base_url=fake.base_url)).resolve("gpt-4o")
        tokens, completion = await collect(provider, model, [ChatMessage("user", "x")])
    assert completion.text == "finally" and len(fake.requests) == 3


async def test_openai_persistent_errors_become_llm_error():
    script = [Reply(status=500, headers={"retry-after-ms": "5"})] * 3
    async with FakeOpenAI(script) as fake:
        provider, model = await ProviderRegistry.from_config(config(openai_base_url=fake.base_url)).resolve("gpt-4o")
        with pytest.raises(LLMError) as caught:
            await collect(provider, model, [ChatMessage("user", "x")])
    assert caught.value.http_status == 502 and caught.value.code == "LLM_ERROR"
    assert "HTTP 500" in caught.value.detail and len(fake.requests) == 3


async def test_openai_client_errors_are_not_retried():
    async with FakeOpenAI([Reply(status=400, error_body={"error": {"message": "bad model"}})]) as fake:
        provider, model = await ProviderRegistry.from_config(config(openai_base_url=fake.base_url)).resolve("gpt-4o")
        with pytest.raises(LLMError, match="bad model"):
            await collect(provider, model, [ChatMessage("user", "x")])
    assert len(fake.requests) == 1


async def test_openai_timeout_becomes_llm_error():
    async with FakeOpenAI([Reply(text="late", delay=2)]) as fake:
        registry = ProviderRegistry.from_config(
            LLMSettings(openai_base_url=fake.base_url, timeout_seconds=0.3, max_retries=0)
        )
        provider, model = await registry.resolve("gpt-4o")
        with pytest.raises(LLMError, match="in time"):
            await collect(provider, model, [ChatMessage("user", "x")])


async def test_unreachable_provider_is_llm_error():
    registry = ProviderRegistry.from_config(config(openai_base_url="http://127.0.0.1:9/v1", max_retries=0))
    provider, model = await registry.resolve("gpt-4o")
    with pytest.raises(LLMError, match="cannot reach openai"):
        await collect(provider, model, [ChatMessage("user", "x")])


async def test_anthropic_streams_tokens_and_tool_calls():
    reply = Reply(text="Reading it now.", tool_calls=[Call("read_file", {"path": "README.md"})])
    async with FakeAnthropic([reply, Reply(text="All done")]) as fake:
        registry = ProviderRegistry.from_config(config(anthropic_api_key="sk-ant-test", anthropic_base_url=fake.base_url))
        provider, model = await registry.resolve("claude-3-5-sonnet-20241022")
        assert provider.info.id == "anthropic"
        tokens, completion = await collect(provider, model, [ChatMessage("system", "sys"), ChatMessage("user", "go")], [READ])
        assert "".join(tokens) == "Reading it now." and completion.finish_reason == "tool_calls"
        assert completion.tool_calls[0].name == "read_file" and completion.tool_calls[0].arguments == {"path": "README.md"}
        history = [
            ChatMessage("system", "sys"),
            ChatMessage("user", "go"),
            ChatMessage("assistant", completion.text, tool_calls=completion.tool_calls),
            ChatMessage("tool", "# readme", tool_call_id=completion.tool_calls[0].id, tool_name="read_file"),
        ]
        _, final = await collect(provider, model, history, [READ])
    assert final.text == "All done" and final.finish_reason == "stop"
    first, second = fake.requests
    assert first["system"] == "sys" and first["tools"][0]["input_schema"]["properties"]["path"]
    sent_key = fake.headers[0].get("x-api-key") or fake.headers[0].get("authorization", "").removeprefix("Bearer ")
    assert sent_key == "sk-ant-test"
    assert second["messages"][1]["content"][-1]["type"] == "tool_use"
    assert second["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": completion.tool_calls[0].id,
        "content": "# readme",
        "is_error": False,
    }


async def test_anthropic_overloaded_is_retried_then_llm_error():
    script = [Reply(status=529, headers={"retry-after-ms": "5"}, error_body={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})] * 2
    async with FakeAnthropic(script) as fake:
        registry = ProviderRegistry.from_config(
            config(anthropic_api_key="k", anthropic_base_url=fake.base_url, max_retries=1)
        )
        provider, model = await registry.resolve("claude-3-5-sonnet-20241022")
        with pytest.raises(LLMError, match="529"):
            await collect(provider, model, [ChatMessage("user", "x")])
    assert len(fake.requests) == 2


async def test_model_discovery_and_resolution():
    async with FakeOpenAI() as openai_fake, FakeAnthropic() as anthropic_fake:
        registry = ProviderRegistry.from_config(
            config(
                openai_base_url=openai_fake.base_url,
                anthropic_api_key="k",
                anthropic_base_url=anthropic_fake.base_url,
            )
        )
        models = await registry.models()
        ids = {(m.provider, m.id) for m in models}
        assert ("openai", "local-coder") in ids and ("anthropic", "claude-3-5-haiku-20241022") in ids
        gpt = next(m for m in models if m.id == "gpt-4o")
        assert gpt.name == "GPT-4o" and gpt.context_window == 128000 and gpt.supports_function_calling
        assert {m.provider for m in await registry.models("anthropic")} == {"anthropic"}
        assert await registry.default_model() == "gpt-4o"
        assert (await registry.resolve("claude-3-5-haiku-20241022"))[0].info.id == "anthropic"
        provider, model = await registry.resolve("openai/some-new-model")
        assert provider.info.id == "openai" and model == "some-new-model"


async def test_no_provider_configured_fails_clearly():
    registry = ProviderRegistry.from_config(LLMSettings())
    assert not any(p.info.configured for p in registry.providers)
    assert await registry.models() == []
    with pytest.raises(FailedPrecondition, match="no model provider configured"):
        await registry.resolve("gpt-4o")


async def test_discovery_failure_falls_back_to_known_models():
    registry = ProviderRegistry.from_config(config(openai_base_url="http://127.0.0.1:9/v1"))
    models = await registry.models("openai")
    assert [m.id for m in models][:2] == ["gpt-4o", "gpt-4o-mini"] and all(m.provider == "openai" for m in models)
