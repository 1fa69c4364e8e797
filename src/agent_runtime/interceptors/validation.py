"""Enforces the `field_rules` options of request messages (common.proto) on
every call, before the handler runs (interceptors/call.py), so the rules published in
openapi.json are the rules the server keeps. Domain classes still check
what needs more than one field."""

from __future__ import annotations

import functools
import re

from google.protobuf import descriptor as _descriptor
from google.protobuf.message import Message

from agentruntime.v1 import common_pb2
from agent_runtime.errors import DomainError, InvalidArgument, ValidationFailed

FieldDescriptor = _descriptor.FieldDescriptor

# The documents disagree on the status of a value that breaks a rule:
# openruntime-compute's table says 422 (invalid parameters), as its other
# checks answer; session-event's and agent-runtime-devin's say 400.
_UNPROCESSABLE_FILES = frozenset({"agentruntime/v1/compute.proto"})


@functools.cache
def _rules_of(message_descriptor) -> tuple[tuple[FieldDescriptor, common_pb2.FieldRules | None, re.Pattern | None], ...]:
    checked = []
    for field in message_descriptor.fields:
        options = field.GetOptions()
        rules = options.Extensions[common_pb2.field_rules] if options.HasExtension(common_pb2.field_rules) else None
        nested = field.message_type is not None and not field.message_type.GetOptions().map_entry
        if rules is None and not (nested and field.message_type.full_name.startswith("agentruntime.")):
            continue
        pattern = re.compile(rules.pattern) if rules is not None and rules.pattern else None
        checked.append((field, rules, pattern))
    return tuple(checked)


def validate(message: Message, prefix: str = "", error: type[DomainError] | None = None) -> None:
    """Raises InvalidArgument (ValidationFailed for compute.proto's
    requests) naming the first field that breaks its rules."""
    if error is None:
        error = ValidationFailed if message.DESCRIPTOR.file.name in _UNPROCESSABLE_FILES else InvalidArgument
    for field, rules, pattern in _rules_of(message.DESCRIPTOR):
        name = prefix + field.name
        if field.message_type is not None:
            values = getattr(message, field.name) if field.is_repeated else (
                [getattr(message, field.name)] if message.HasField(field.name) else []
            )
            for value in values:
                validate(value, f"{name}.", error)
            continue
        if field.has_presence and not message.HasField(field.name):
            continue
        values = getattr(message, field.name)
        for value in values if field.is_repeated else [values]:
            _check(name, value, rules, pattern, error)


def _check(name: str, value, rules: common_pb2.FieldRules, pattern: re.Pattern | None, error: type[DomainError]) -> None:
    def fail(rule: str) -> None:
        raise error(f"{name} {rule}", fields={name: rule})

    if isinstance(value, str):
        if len(value) < rules.min_length:
            fail("is required" if rules.min_length == 1 else f"must be at least {rules.min_length} characters")
        if rules.max_length and len(value) > rules.max_length:
            fail(f"must be at most {rules.max_length} characters")
        if pattern is not None and value and not pattern.fullmatch(value):
            fail(f"must match {rules.pattern}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if rules.HasField("minimum") and value < rules.minimum:
            fail(f"must be at least {rules.minimum}")
        if rules.HasField("maximum") and value > rules.maximum:
            fail(f"must be at most {rules.maximum}")
