"""Context assembly: the messages the model sees, within
MAX_CONTEXT_MESSAGES and MAX_CONTEXT_TOKENS. The system prompt and the task
always stay; then as many of the newest messages as fit, never starting with
a tool result whose call was cut off."""

from __future__ import annotations

import json

from agent_runtime.llm.base import ChatMessage, estimate_tokens


def message_tokens(message: ChatMessage) -> int:
    calls = json.dumps([[c.name, c.arguments] for c in message.tool_calls]) if message.tool_calls else ""
    return estimate_tokens(message.content) + estimate_tokens(calls) + 4


def _truncate(message: ChatMessage, tokens: int) -> ChatMessage:
    keep = max(0, tokens * 4 - 64)
    if len(message.content) <= keep:
        return message
    cut = len(message.content) - keep
    return ChatMessage(
        message.role,
        message.content[:keep] + f"\n… [{cut} characters cut to fit the context window]",
        message.tool_calls,
        message.tool_call_id,
        message.tool_name,
        message.is_error,
    )


def assemble_context(messages: list[ChatMessage], max_messages: int, max_tokens: int) -> list[ChatMessage]:
    head_size = 0
    if messages and messages[0].role == "system":
        head_size = 1
    if len(messages) > head_size and messages[head_size].role == "user":
        head_size += 1
    head = messages[:head_size]
    rest = messages[head_size:]
    # The head gets at most half of the budget; long tasks are truncated.
    head_budget = max_tokens // 2 // max(1, len(head))
    head = [_truncate(m, head_budget) if message_tokens(m) > head_budget else m for m in head]
    budget = max_tokens - sum(message_tokens(m) for m in head) - 32
    room = max(1, max_messages - len(head) - 1)
    chosen: list[ChatMessage] = []
    for message in reversed(rest):
        cost = message_tokens(message)
        if len(chosen) >= room or cost > budget:
            if not chosen:
                # The newest message alone is too big: keep a truncated copy.
                chosen.append(_truncate(message, max(budget, 64)))
            break
        chosen.append(message)
        budget -= cost
    chosen.reverse()
    while chosen and chosen[0].role == "tool":
        chosen.pop(0)
    # An assistant tool call must be followed by all of its results.
    omitted = len(rest) - len(chosen)
    if omitted > 0:
        note = ChatMessage("user", f"[{omitted} earlier messages of this task were left out to fit the context window]")
        return head + [note] + chosen
    return head + chosen
