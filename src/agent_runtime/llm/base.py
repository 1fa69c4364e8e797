"""The provider interface and the plain records it speaks.

A provider turns (model, messages, tools) into a stream of `TokenDelta`s
followed by exactly one `Completion` (the full text, the tool calls and why
the model stopped). Providers map every failure to `LLMError` (HTTP 502,
code `LLM_ERROR`) after their own retries.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, AsyncIterator, Awaitable, Callable, Protocol, Union

import grpc

from agent_runtime.errors import DomainError


class LLMError(DomainError):
    """The model provider failed (after retries) or answered nonsense."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 502
    code = "LLM_ERROR"


@dataclasses.dataclass
class ToolSpec:
    """A tool the model may call: name, description, JSON-schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclasses.dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    # Set when the model's argument text was not a JSON object; the run loop
    # reports it back to the model as a tool error.
    arguments_error: str | None = None


@dataclasses.dataclass
class ChatMessage:
    """One message of a conversation. role: system, user, assistant or tool.
    Assistant messages may carry tool_calls; tool messages answer one call."""

    role: str
    content: str = ""
    tool_calls: list[ToolCall] = dataclasses.field(default_factory=list)
    tool_call_id: str | None = None
    tool_name: str | None = None
    is_error: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "content": self.content,
            "tool_calls": [dataclasses.asdict(call) for call in self.tool_calls],
            "tool_call_id": self.tool_call_id,
            "tool_name": self.tool_name,
            "is_error": self.is_error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ChatMessage":
        return cls(
            role=data["role"],
            content=data.get("content") or "",
            tool_calls=[ToolCall(**call) for call in data.get("tool_calls") or []],
            tool_call_id=data.get("tool_call_id"),
            tool_name=data.get("tool_name"),
            is_error=bool(data.get("is_error")),
        )


@dataclasses.dataclass
class TokenDelta:
    text: str


@dataclasses.dataclass
class Completion:
    text: str
    tool_calls: list[ToolCall]
    # `stop`, `tool_calls`, `length`, or the provider's own word.
    finish_reason: str
    input_tokens: int = 0
    output_tokens: int = 0


StreamEvent = Union[TokenDelta, Completion]


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    provider: str
    context_window: int
    supports_vision: bool
    supports_function_calling: bool


@dataclasses.dataclass(frozen=True)
class ProviderInfo:
    id: str
    name: str
    configured: bool


class LLMProvider(Protocol):
    """What the run loop needs from a model provider."""

    @property
    def info(self) -> ProviderInfo: ...

    async def list_models(self) -> list[ModelInfo]:
        """The models this provider serves (discovered where it can say)."""

    def stream(
        self, model: str, messages: list[ChatMessage], tools: list[ToolSpec], *, max_tokens: int
    ) -> AsyncIterator[StreamEvent]:
        """Streams TokenDeltas, then one Completion. Raises LLMError."""

    async def probe(self) -> None:
        """Raises when the provider cannot be reached now (`/health`)."""


async def probe_by_listing(list_models: Callable[[], Awaitable[Any]], status_error: type[Exception]) -> None:
    """A remote provider's probe: one uncached, unretried model listing.
    Any HTTP answer (the SDK's `status_error`) but an authentication failure
    or a server error means reachable."""
    try:
        await list_models()
    except status_error as error:
        if error.status_code in (401, 403) or error.status_code >= 500:
            raise


async def complete(provider: LLMProvider, model: str, messages: list[ChatMessage], *, max_tokens: int) -> Completion:
    """One whole answer without tools: the stream's Completion."""
    async for event in provider.stream(model, messages, [], max_tokens=max_tokens):
        if isinstance(event, Completion):
            return event
    raise LLMError(f"{provider.info.id}/{model}: the stream ended without a completion")


def parse_arguments(call_id: str, name: str, text: str) -> ToolCall:
    """A ToolCall from the model's argument text, which may be empty or bad."""
    if not text.strip():
        return ToolCall(call_id, name, {})
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return ToolCall(call_id, name, {}, arguments_error=f"arguments are not valid JSON ({error.msg}): {text[:200]}")
    if not isinstance(value, dict):
        return ToolCall(call_id, name, {}, arguments_error="arguments must be a JSON object")
    return ToolCall(call_id, name, value)


def estimate_tokens(text: str) -> int:
    """A cheap, provider-independent token estimate (about 4 characters per
    token), used to keep the context within MAX_CONTEXT_TOKENS."""
    return len(text) // 4 + 1
