"""Local MLX models as an LLM provider (`provider: mlx`).

Every model in the ML registry (`GET /ml-api/models/`: local MLX model
directories and LoRA fine-tunes `<base>:<suffix>:<job id>`) is a model of
this provider; a task names one as `mlx/<model id>` (or by its bare id when
no other provider lists that id). Tokens are streamed from
`LocalInference.stream_chat` (ml/inference.py) as the model produces them.

The provider is `configured` while at least one model is registered; the ML
service tells it about newly registered models (`model_registered`), so a
model registered over the API is usable at once.

Generation settings come from the registered model's `parameters`:
`temperature` (default 0.7) and `max_tokens` (default 512), which caps the
run loop's MAX_OUTPUT_TOKENS.

Tool calls: local MLX models here have no structured tool-call output, so
this provider returns text only. The tools are not sent to the model and
every `Completion` has no tool calls (`supports_function_calling` is false in
the model listing): an agent task on a local model ends after the model's
first reply. Earlier tool calls and tool results in the conversation (e.g.
from another provider) are rendered as plain text messages.

Token counts are estimates: input by `estimate_tokens`, output by the number
of streamed pieces; `finish_reason` is `length` when that count reached the
limit, else `stop`. Failures (model gone, MLX missing, generation error) are
`LLMError`s.
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable

from agent_runtime.errors import DomainError
from agent_runtime.llm.base import (
    ChatMessage,
    Completion,
    LLMError,
    ModelInfo,
    ProviderInfo,
    StreamEvent,
    TokenDelta,
    ToolSpec,
    estimate_tokens,
)
from agent_runtime.llm.catalog import DEFAULT_CONTEXT_WINDOW

PROVIDER_ID = "mlx"
DEFAULT_TEMPERATURE = 0.7
DEFAULT_MAX_TOKENS = 512

StreamChat = Callable[..., AsyncIterator[str]]


def to_local_messages(messages: list[ChatMessage]) -> list[dict[str, str]]:
    """Chat messages for `stream_chat` (roles system/user/assistant only:
    tool traffic becomes text)."""
    converted: list[dict[str, str]] = []
    for message in messages:
        if message.role == "tool":
            label = "Error from tool" if message.is_error else "Result of tool"
            converted.append({"role": "user", "content": f"{label} {message.tool_name or ''}: {message.content}"})
            continue
        content = message.content
        if message.role == "assistant" and message.tool_calls:
            calls = "\n".join(f"[called {c.name}({json.dumps(c.arguments)})]" for c in message.tool_calls)
            content = f"{content}\n{calls}" if content else calls
        role = message.role if message.role in ("system", "user", "assistant") else "user"
        converted.append({"role": role, "content": content})
    return converted


def _number(parameters: dict[str, Any], key: str, default: float) -> float:
    value = parameters.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


class MLXProvider:
    """The registered local MLX models. `list_registered` returns the ML
    registry's model records (`MLService.list_models`); `stream_chat` is
    the server's `LocalInference.stream_chat`."""

    def __init__(self, list_registered: Callable[[], Awaitable[Iterable[Any]]], stream_chat: StreamChat):
        self._list_registered = list_registered
        self._stream_chat = stream_chat
        self._known: set[str] = set()

    @property
    def info(self) -> ProviderInfo:
        return ProviderInfo(PROVIDER_ID, "MLX (local)", bool(self._known))

    def model_registered(self, model_id: str) -> None:
        """Called by the ML service when a model is registered."""
        self._known.add(model_id)

    async def refresh(self) -> None:
        """Reads the registry (at start)."""
        await self.list_models()

    async def probe(self) -> None:
        """Local: reachable while the registry can be read."""
        await self._list_registered()

    async def list_models(self) -> list[ModelInfo]:
        records = list(await self._list_registered())
        self._known = {record.id for record in records}
        return [
            ModelInfo(
                record.id,
                record.name or record.id,
                PROVIDER_ID,
                int(_number(record.parameters, "context_length", DEFAULT_CONTEXT_WINDOW)),
                False,
                False,
            )
            for record in records
        ]

    async def _record(self, model: str) -> Any:
        for record in await self._list_registered():
            if record.id == model:
                return record
        raise LLMError(f"local model {model!r} is not registered (see GET /ml-api/models/)", code="LLM_ERROR")

    async def stream(
        self, model: str, messages: list[ChatMessage], tools: list[ToolSpec], *, max_tokens: int
    ) -> AsyncIterator[StreamEvent]:
        record = await self._record(model)
        parameters = record.parameters or {}
        limit = max(1, min(max_tokens, int(_number(parameters, "max_tokens", DEFAULT_MAX_TOKENS))))
        temperature = _number(parameters, "temperature", DEFAULT_TEMPERATURE)
        local = to_local_messages(messages)
        pieces: list[str] = []
        try:
            async for piece in self._stream_chat(model, local, max_tokens=limit, temperature=temperature):
                pieces.append(piece)
                yield TokenDelta(piece)
        except LLMError:
            raise
        except DomainError as error:
            raise LLMError(f"local model {model!r}: {error}") from None
        except Exception as error:  # noqa: BLE001 - every local failure is an LLM_ERROR
            raise LLMError(f"local model {model!r} failed: {type(error).__name__}: {error}") from None
        text = "".join(pieces)
        yield Completion(
            text,
            [],
            "length" if len(pieces) >= limit else "stop",
            sum(estimate_tokens(m["content"]) for m in local),
            len(pieces),
        )
