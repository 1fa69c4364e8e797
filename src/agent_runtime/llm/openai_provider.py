"""OpenAI-compatible provider through the official `openai` SDK: OpenAI
itself, Azure OpenAI, Ollama, vLLM and LM Studio (by base URL)."""

from __future__ import annotations

import json
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

if TYPE_CHECKING:
    # The SDK is imported on first use (inside the functions below): it takes
    # about a second of CPU, which a server without this provider, and every
    # `agent-runtime` command that never calls a model, would pay at start.
    import openai


def llm_error(provider: str, error: Exception) -> LLMError:
    """One LLMError with a useful detail from any SDK failure."""
    if isinstance(error, LLMError):
        return error
    status = getattr(error, "status_code", None)
    if status is not None:
        message = getattr(error, "message", None) or str(error)
        return LLMError(f"{provider} answered HTTP {status}: {message}")
    if type(error).__name__ in ("APITimeoutError",):
        return LLMError(f"{provider} did not answer in time")
    if type(error).__name__ in ("APIConnectionError",):
        return LLMError(f"cannot reach {provider}: {error}")
    return LLMError(f"{provider} failed: {type(error).__name__}: {error}")


def to_openai_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            converted.append({"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content})
        elif message.role == "assistant" and message.tool_calls:
            converted.append(
                {
                    "role": "assistant",
                    "content": message.content or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                        }
                        for call in message.tool_calls
                    ],
                }
            )
        else:
            converted.append({"role": message.role, "content": message.content})
    return converted


def to_openai_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in tools
    ]


class OpenAICompatibleProvider:
    """One OpenAI-format endpoint. `provider_id` names it in the API
    (`openai`, `azure`, `ollama`)."""

    def __init__(
        self,
        provider_id: str,
        name: str,
        client: openai.AsyncOpenAI | None,
        *,
        model_cache_seconds: float = 300.0,
    ):
        self._info = ProviderInfo(provider_id, name, client is not None)
        self._client = client
        self._discovery = ModelDiscovery(provider_id, self._discover, model_cache_seconds)

    @property
    def info(self) -> ProviderInfo:
        return self._info

    async def list_models(self) -> list[ModelInfo]:
        return [] if self._client is None else await self._discovery.models()

    async def probe(self) -> None:
        import openai

        await probe_by_listing(self._discover, openai.APIStatusError)

    async def _discover(self) -> list[ModelInfo]:
        page = await self._client.with_options(timeout=DISCOVERY_TIMEOUT, max_retries=0).models.list()
        return [model_info(i, self._info.id) for i in sorted({model.id async for model in page})]

    async def stream(
        self, model: str, messages: list[ChatMessage], tools: list[ToolSpec], *, max_tokens: int
    ) -> AsyncIterator[StreamEvent]:
        if self._client is None:
            raise LLMError(f"provider {self._info.id} is not configured", code="LLM_NOT_CONFIGURED")
        request: dict[str, Any] = {
            "model": model,
            "messages": to_openai_messages(messages),
            "stream": True,
            # The last chunk then carries the token usage.
            "stream_options": {"include_usage": True},
            "max_tokens": max_tokens,
        }
        if tools:
            request["tools"] = to_openai_tools(tools)
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        finish_reason = ""
        input_tokens = output_tokens = 0
        try:
            stream = await self._client.chat.completions.create(**request)
            async for chunk in stream:
                if getattr(chunk, "usage", None):
                    input_tokens = chunk.usage.prompt_tokens or 0
                    output_tokens = chunk.usage.completion_tokens or 0
                for choice in chunk.choices or ():
                    delta = choice.delta
                    if delta is not None and delta.content:
                        text.append(delta.content)
                        yield TokenDelta(delta.content)
                    for part in (delta.tool_calls if delta is not None else None) or ():
                        entry = calls.setdefault(part.index or 0, {"id": "", "name": "", "arguments": ""})
                        if part.id:
                            entry["id"] = part.id
                        if part.function is not None:
                            if part.function.name:
                                entry["name"] += part.function.name
                            if part.function.arguments:
                                entry["arguments"] += part.function.arguments
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        except LLMError:
            raise
        except Exception as error:  # noqa: BLE001 - every SDK failure is an LLM_ERROR
            raise llm_error(self._info.id, error) from None
        tool_calls = [
            parse_arguments(entry["id"] or f"call_{index}", entry["name"], entry["arguments"])
            for index, entry in sorted(calls.items())
            if entry["name"]
        ]
        yield Completion(
            "".join(text),
            tool_calls,
            finish_reason or ("tool_calls" if tool_calls else "stop"),
            input_tokens,
            output_tokens,
        )


def openai_client(api_key: str | None, base_url: str | None, timeout: float, max_retries: int) -> openai.AsyncOpenAI:
    import openai

    return openai.AsyncOpenAI(
        # Local servers (Ollama, vLLM) accept any key; the SDK insists on one.
        api_key=api_key or "not-needed",
        base_url=base_url,
        timeout=timeout,
        max_retries=max_retries,
    )


def azure_client(api_key: str, endpoint: str, api_version: str, timeout: float, max_retries: int) -> openai.AsyncOpenAI:
    import openai

    return openai.AsyncAzureOpenAI(
        api_key=api_key,
        azure_endpoint=endpoint,
        api_version=api_version,
        timeout=timeout,
        max_retries=max_retries,
    )
