"""Anthropic provider through the official `anthropic` SDK (messages API,
streamed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator

from agent_runtime.llm.base import (
    ChatMessage,
    Completion,
    LLMError,
    ModelInfo,
    ProviderInfo,
    StreamEvent,
    TokenDelta,
    ToolSpec,
    parse_arguments,
    probe_by_listing,
)
from agent_runtime.llm.catalog import DISCOVERY_TIMEOUT, ModelDiscovery, model_info
from agent_runtime.llm.openai_provider import llm_error

if TYPE_CHECKING:
    # The SDK is imported on first use (inside the functions below): it takes
    # about a second of CPU, which a server without this provider, and every
    # `agent-runtime` command that never calls a model, would pay at start.
    import anthropic


# Anthropic's stop reasons in the words the run loop uses.
_FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length", "stop_sequence": "stop"}


def to_anthropic(messages: list[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """(system prompt, messages): tool results become user `tool_result`
    blocks, merged with neighbours so roles alternate."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    converted: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if converted and converted[-1]["role"] == role:
            converted[-1]["content"].extend(blocks)
        else:
            converted.append({"role": role, "content": blocks})

    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            add(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": message.tool_call_id,
                        "content": message.content,
                        "is_error": message.is_error,
                    }
                ],
            )
        elif message.role == "assistant":
            blocks: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in message.tool_calls]
            add("assistant", blocks or [{"type": "text", "text": "(no text)"}])
        else:
            add("user", [{"type": "text", "text": message.content or "(empty)"}])
    return system, converted


class AnthropicProvider:
    def __init__(self, client: anthropic.AsyncAnthropic | None, *, model_cache_seconds: float = 300.0):
        self._info = ProviderInfo("anthropic", "Anthropic", client is not None)
        self._client = client
        self._discovery = ModelDiscovery("anthropic", self._discover, model_cache_seconds)

    @property
    def info(self) -> ProviderInfo:
        return self._info

    async def list_models(self) -> list[ModelInfo]:
        return [] if self._client is None else await self._discovery.models()

    async def probe(self) -> None:
        import anthropic

        await probe_by_listing(self._discover, anthropic.APIStatusError)

    async def _discover(self) -> list[ModelInfo]:
        page = await self._client.with_options(timeout=DISCOVERY_TIMEOUT, max_retries=0).models.list()
        found = {}
        async for model in page:
            found[model.id] = getattr(model, "display_name", None)
        return [model_info(i, "anthropic", found[i]) for i in sorted(found)]

    async def stream(
        self, model: str, messages: list[ChatMessage], tools: list[ToolSpec], *, max_tokens: int
    ) -> AsyncIterator[StreamEvent]:
        if self._client is None:
            raise LLMError("provider anthropic is not configured", code="LLM_NOT_CONFIGURED")
        system, converted = to_anthropic(messages)
        request: dict[str, Any] = {"model": model, "messages": converted, "max_tokens": max_tokens, "stream": True}
        if system:
            request["system"] = system
        if tools:
            request["tools"] = [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools]
        text: list[str] = []
        blocks: dict[int, dict[str, str]] = {}
        stop_reason = ""
        input_tokens = output_tokens = 0
        try:
            stream = await self._client.messages.create(**request)
            async for event in stream:
                kind = event.type
                if kind == "message_start":
                    usage = getattr(event.message, "usage", None)
                    input_tokens = getattr(usage, "input_tokens", 0) or 0
                elif kind == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        blocks[event.index] = {"id": block.id, "name": block.name, "arguments": ""}
                elif kind == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta" and delta.text:
                        text.append(delta.text)
                        yield TokenDelta(delta.text)
                    elif delta.type == "input_json_delta" and event.index in blocks:
                        blocks[event.index]["arguments"] += delta.partial_json
                elif kind == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    output_tokens = getattr(event.usage, "output_tokens", 0) or 0
                elif kind == "error":
                    raise LLMError(f"anthropic stream error: {getattr(event, 'error', event)}")
        except LLMError:
            raise
        except Exception as error:  # noqa: BLE001 - every SDK failure is an LLM_ERROR
            raise llm_error("anthropic", error) from None
        calls = [parse_arguments(b["id"], b["name"], b["arguments"]) for _, b in sorted(blocks.items())]
        yield Completion(
            "".join(text),
            calls,
            _FINISH.get(stop_reason, stop_reason or ("tool_calls" if calls else "stop")),
            input_tokens,
            output_tokens,
        )


def anthropic_client(api_key: str, base_url: str | None, timeout: float, max_retries: int) -> anthropic.AsyncAnthropic:
    import anthropic

    return anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)
