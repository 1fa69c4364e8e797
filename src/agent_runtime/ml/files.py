"""Validation of uploaded JSONL training data, line by line, in the formats
mlx-lm trains on: chat (`{"messages": [{"role", "content"}, …]}`),
completions (`{"prompt", "completion"}`) and text (`{"text"}`)."""

from __future__ import annotations

import dataclasses
import json

from agent_runtime.errors import InvalidArgument

MAX_REPORTED_ERRORS = 20
ROLES = frozenset({"system", "user", "assistant", "tool"})
PURPOSES = ("fine-tune", "fine-tune-validation")


@dataclasses.dataclass(frozen=True)
class ValidatedFile:
    content: bytes  # normalised JSONL: one compact JSON object per line
    line_count: int
    format: str


def _line_format(value: object) -> tuple[str | None, str | None]:
    """(format, None) for a valid example, (None, reason) otherwise."""
    if not isinstance(value, dict):
        return None, f"expected a JSON object, got {type(value).__name__}"
    if "messages" in value:
        messages = value["messages"]
        if not isinstance(messages, list) or not messages:
            return None, '"messages" must be a non-empty array'
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                return None, f"messages[{index}] must be an object"
            if message.get("role") not in ROLES:
                return None, f"messages[{index}].role must be one of {sorted(ROLES)}"
            if not isinstance(message.get("content"), str):
                return None, f"messages[{index}].content must be a string"
        if not any(m["role"] == "assistant" for m in messages):
            return None, "a chat example needs at least one assistant message to learn from"
        return "chat", None
    if "prompt" in value or "completion" in value:
        if not isinstance(value.get("prompt"), str) or not isinstance(value.get("completion"), str):
            return None, '"prompt" and "completion" must both be strings'
        return "completions", None
    if "text" in value:
        if not isinstance(value["text"], str) or not value["text"]:
            return None, '"text" must be a non-empty string'
        return "text", None
    return None, 'each line needs "messages", "prompt" + "completion", or "text"'


def validate_jsonl(raw: bytes) -> ValidatedFile:
    """Checks every line; raises InvalidArgument (VALIDATION_ERROR) naming
    the bad lines (1-based) with what to fix."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InvalidArgument(
            f"line {line}: not UTF-8 text", code="VALIDATION_ERROR", fields={f"line {line}": "not UTF-8 text"}
        ) from None
    errors: dict[str, str] = {}
    formats: dict[str, int] = {}
    lines: list[str] = []
    first_format: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            errors[f"line {number}"] = f"not valid JSON ({error.msg} at column {error.colno})"
            continue
        kind, reason = _line_format(value)
        if reason:
            errors[f"line {number}"] = reason
            continue
        if first_format is None:
            first_format = kind
            formats[kind] = number
        elif kind != first_format:
            errors[f"line {number}"] = (
                f"format {kind!r} differs from {first_format!r} of line {formats[first_format]}: use one format per file"
            )
            continue
        lines.append(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    if errors:
        shown = dict(list(errors.items())[:MAX_REPORTED_ERRORS])
        summary = "; ".join(f"{k}: {v}" for k, v in shown.items())
        more = f" (and {len(errors) - len(shown)} more lines)" if len(errors) > len(shown) else ""
        raise InvalidArgument(
            f"JSONL has {len(errors)} invalid line(s): {summary}{more}", code="VALIDATION_ERROR", fields=shown
        )
    if not lines:
        raise InvalidArgument("the file has no examples: send one JSON object per line", code="VALIDATION_ERROR")
    assert first_format is not None
    return ValidatedFile(("\n".join(lines) + "\n").encode("utf-8"), len(lines), first_format)


def parse_json_upload(raw: bytes) -> tuple[bytes, str | None, str | None]:
    """A JSON upload: `{"filename", "purpose", "content": "<jsonl>"}` or
    `{"filename", "purpose", "data": [{…}, …]}` → (jsonl bytes, filename, purpose)."""
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidArgument(
            f"JSON body is not valid JSON ({error}); send raw JSONL with a non-JSON content type, "
            'or {"filename", "purpose", "content"}'
        ) from None
    if not isinstance(body, dict):
        raise InvalidArgument('JSON body must be an object with "content" (JSONL text) or "data" (array of examples)')
    filename, purpose = body.get("filename"), body.get("purpose")
    for name, value in (("filename", filename), ("purpose", purpose)):
        if value is not None and not isinstance(value, str):
            raise InvalidArgument(f'"{name}" must be a string')
    if isinstance(body.get("content"), str):
        return body["content"].encode("utf-8"), filename, purpose
    if isinstance(body.get("data"), list):
        lines = [json.dumps(item, ensure_ascii=False) for item in body["data"]]
        return ("\n".join(lines) + "\n").encode("utf-8"), filename, purpose
    raise InvalidArgument('JSON body needs "content" (JSONL text) or "data" (array of examples)')
