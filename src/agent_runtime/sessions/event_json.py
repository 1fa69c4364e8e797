"""An event's JSON: the body storage keeps, built from a gRPC message or from
the JSON a REST client posted, and the JSON that REST and /ws print.

Why the servicer reads and prints REST's JSON itself instead of leaving it
to Envoy's transcoder: tool_input, tool_output, content and payload are
google.protobuf.Struct/Value, maps that keep no key order, so the client's
order was lost on the way in and the printed order changed between
restarts. Posted JSON is stored as parsed (dicts keep order) and printed
from storage; events sent over gRPC are stored with their keys sorted."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Callable

from google.api import field_behavior_pb2
from google.protobuf import struct_pb2, timestamp_pb2

from agentruntime.v1 import session_pb2 as pb
from agent_runtime.clock import iso, timestamp_proto
from agent_runtime.errors import InvalidArgument
from agent_runtime.jsonfmt import whole_float
from agent_runtime.sessions.models import EventRecord, NewEvent

# Event fields kept in columns of their own, not in the body.
_COLUMN_FIELDS = ("event_type", "session_id", "session_name", "timestamp", "event_id", "sequence", "feed_sequence", "id")
STRUCT, VALUE, TIMESTAMP = "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.Timestamp"
# A JSON integer beyond this is no double: gRPC readers could not print it.
_LARGEST_DOUBLE = int(1.7976931348623157e308)


def _json_value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):
            raise InvalidArgument("event values must be finite numbers: JSON has no NaN or Infinity")
        # As the transcoder prints a double: 3, not 3.0.
        return int(number) if number.is_integer() else number
    if kind == "struct_value":
        return _json_object(value.struct_value)
    if kind == "list_value":
        return [_json_value(item) for item in value.list_value.values]
    return getattr(value, kind)


def _json_object(struct: struct_pb2.Struct) -> dict[str, Any]:
    # A Struct arrives as a map: sorted, its order is the same on every read.
    fields = struct.fields
    return {key: _json_value(fields[key]) for key in sorted(fields)}


def _message_name(field) -> str | None:
    return field.message_type.full_name if field.message_type else None


def _body_fields() -> tuple[tuple[str, Callable[[Any], Any] | None, bool], ...]:
    """(name, converter or None for a scalar, repeated) of the Event fields
    stored in an event's body, in field-number order."""
    fields = []
    for field in pb.Event.DESCRIPTOR.fields:
        if field.name in _COLUMN_FIELDS:
            continue
        message = _message_name(field)
        if message == STRUCT:
            fields.append((field.name, _json_object, field.is_repeated))
        elif message == VALUE:
            fields.append((field.name, _json_value, field.is_repeated))
        elif message is None and field.has_presence and field.type in (field.TYPE_STRING, field.TYPE_INT32):
            fields.append((field.name, None, False))
        else:
            raise TypeError(f"Event.{field.name}: teach event_json how to store this field type")
    return tuple(fields)


_BODY_FIELDS = _body_fields()


def event_body(event: pb.Event) -> dict[str, Any]:
    """What an event's stored body holds: json_format.MessageToDict of the
    event without its column fields (objects with sorted keys), built
    directly, since the generic printer was a quarter of the server's time
    on ingest (bench/RESULTS.md)."""
    body: dict[str, Any] = {}
    for name, convert, repeated in _BODY_FIELDS:
        if repeated:
            items = getattr(event, name)
            if items:
                body[name] = [convert(item) for item in items]
        elif event.HasField(name):
            body[name] = getattr(event, name) if convert is None else convert(getattr(event, name))
    return body


def event_from_proto(event: pb.Event) -> NewEvent:
    return NewEvent(
        event_type=event.event_type,
        timestamp=iso(event.timestamp.ToDatetime()) if event.HasField("timestamp") else "",
        session_name=event.session_name,
        body=event_body(event),
    )


# Reading REST's JSON: what the transcoder accepted, with its messages.


def _invalid(path: str, value: Any, type_name: str) -> InvalidArgument:
    shown = json.dumps(value, ensure_ascii=False)
    if len(shown) > 100:
        shown = shown[:100] + "…"
    return InvalidArgument(f"{path}: invalid value {shown} for type {type_name}")


def _string(path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid(path, value, "TYPE_STRING")
    return value


_DIGITS = re.compile(r"-?[0-9]+")


def _int32(path: str, value: Any) -> int:
    # Proto JSON also takes an integer as a string of digits.
    number = int(value) if isinstance(value, str) and _DIGITS.fullmatch(value) else value
    if isinstance(number, bool) or not isinstance(number, int) or not -(2**31) <= number < 2**31:
        raise _invalid(path, value, "TYPE_INT32")
    return number


def _struct(path: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(path, value, f"type.googleapis.com/{STRUCT}")
    return value


def _structs(path: str, value: Any) -> list[dict[str, Any]]:
    # The transcoder took a lone object as a list of one.
    items = value if isinstance(value, list) else [value]
    return [_struct(f"{path}[{index}]", item) for index, item in enumerate(items)]


def _timestamp(path: str, value: Any) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    try:
        stamp.FromJsonString(_string(path, value))
    except ValueError as error:
        raise _invalid(path, value, f"type.googleapis.com/{TIMESTAMP} ({error})") from None
    return stamp


def _reader(field) -> tuple[Callable[[str, Any], Any], bool]:
    """How a field's JSON value is checked, and whether it is set on the
    message (scalars: the field rules check them there) or kept as JSON."""
    message = _message_name(field)
    if message == STRUCT:
        return (_structs if field.is_repeated else _struct), False
    if message == VALUE:
        return (lambda path, value: value), False
    if message == TIMESTAMP:
        return _timestamp, True
    if field.type == field.TYPE_INT32:
        return _int32, True
    if field.type == field.TYPE_STRING:
        return _string, True
    raise TypeError(f"Event.{field.name}: teach event_json how to read this field type")


def _rest_fields() -> dict[str, tuple[str, Callable[[str, Any], Any], bool]]:
    """JSON key (proto and JSON name, as the transcoder takes both) → (field
    name, reader, set on the message) of the Event fields a client sends;
    output-only fields are ignored, as the transcoder's server did."""
    fields = {}
    for field in pb.Event.DESCRIPTOR.fields:
        if field_behavior_pb2.OUTPUT_ONLY in field.GetOptions().Extensions[field_behavior_pb2.field_behavior]:
            continue
        reader, on_message = _reader(field)
        fields[field.name] = fields[field.json_name] = (field.name, reader, on_message)
    return fields


_REST_FIELDS = _rest_fields()


def _number(text: str) -> int | float:
    value = whole_float(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgument(f"the body is not valid JSON: {text} exceeds the range of a double")
    return value


def _integer(text: str) -> int:
    value = int(text)
    if abs(value) > _LARGEST_DOUBLE:
        raise InvalidArgument(f"the body is not valid JSON: {text[:20]}… exceeds the range of a double")
    return value


def _not_a_number(text: str) -> None:
    raise InvalidArgument(f"the body is not valid JSON: {text} is not a JSON number")


def event_from_json(data: bytes) -> tuple[pb.Event, NewEvent]:
    """A posted event: its message with the fields the field rules check,
    and the event to store, its objects in the order the client sent them.
    Unknown keys are ignored and null leaves a field unset, as the
    transcoder did; `tool_output: null` is stored as JSON null."""
    try:
        fields = json.loads(data or b"{}", parse_float=_number, parse_int=_integer, parse_constant=_not_a_number)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidArgument(f"the body is not valid JSON: {error}") from None
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise _invalid("event", fields, f"type.googleapis.com/{pb.Event.DESCRIPTOR.full_name}")
    message, body = pb.Event(), {}
    for key, value in fields.items():
        known = _REST_FIELDS.get(key)
        if known is None:
            continue
        name, reader, on_message = known
        if value is None:
            if name == "tool_output":
                body[name] = None
            continue
        value = reader(f"event.{name}", value)
        if name == "timestamp":
            message.timestamp.CopyFrom(value)
        elif on_message:
            setattr(message, name, value)
        if name not in _COLUMN_FIELDS:
            body[name] = value
    event = NewEvent(
        event_type=message.event_type,
        timestamp=iso(message.timestamp.ToDatetime()) if message.HasField("timestamp") else "",
        session_name=message.session_name,
        body=body,
    )
    return message, event


# Printing: what the transcoder printed from event_to_proto (proto field
# names, fields without presence included), objects in stored order.

_PRINTED_BODY_FIELDS = tuple((name, repeated) for name, _, repeated in _BODY_FIELDS)
# clock.iso's form, which every stored timestamp has.
_ISO_MICROSECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def _timestamp_json(text: str) -> str:
    """A stored timestamp as proto JSON prints it (0, 3 or 6 digits of
    fraction): a third of the cost of printing an event through a
    Timestamp message."""
    if not _ISO_MICROSECONDS.fullmatch(text):
        return timestamp_proto(text).ToJsonString()
    if text.endswith(".000000Z"):
        return text[:19] + "Z"
    if text.endswith("000Z"):
        return text[:23] + "Z"
    return text


def event_json(event: EventRecord) -> dict[str, Any]:
    printed: dict[str, Any] = {
        "event_type": event.event_type,
        "session_id": event.session_id,
        "session_name": event.session_name,
        "timestamp": _timestamp_json(event.timestamp),
    }
    body = event.body
    for name, repeated in _PRINTED_BODY_FIELDS:
        if name in body:
            printed[name] = body[name]
        elif repeated:
            printed[name] = []
    printed["event_id"] = event.event_id
    printed["sequence"] = event.sequence
    # int64 is a string in proto JSON; `id` is the same number as a number.
    printed["feed_sequence"] = str(event.feed_sequence)
    printed["id"] = event.feed_sequence
    return printed
