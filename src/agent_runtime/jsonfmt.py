"""JSON printing of proto messages with the options Envoy's transcoder uses, so
the WebSocket bridge and HttpBody responses print exactly what REST prints."""

from __future__ import annotations

import json
from typing import Any

from google.api import httpbody_pb2
from google.protobuf import json_format
from google.protobuf.message import Message


def message_to_dict(message: Message) -> dict[str, Any]:
    """As Envoy prints it: also whole doubles as integers (Struct values
    and double fields are doubles; Python would print 3 as 3.0)."""
    return _whole_numbers(
        json_format.MessageToDict(
            message,
            preserving_proto_field_name=True,
            always_print_fields_with_no_presence=True,
        )
    )


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


def whole_float(text: str) -> int | float:
    """A JSON number with a fraction or exponent (json.loads' parse_float)
    as the transcoder prints a double: a whole one as an integer."""
    value = float(text)
    return int(value) if value.is_integer() else value


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_http_body(value: Any) -> httpbody_pb2.HttpBody:
    """`value` as a JSON HttpBody: the REST bodies the transcoder cannot
    print from a typed message (bare arrays, numbers where gRPC has strings)."""
    return httpbody_pb2.HttpBody(content_type="application/json", data=dumps(value).encode())


def struct_value(message: Message) -> Any:
    """A google.protobuf Struct or Value as the JSON a client sent. Both carry
    every number as a double, so a whole number comes back as one (12, not
    12.0): tools and models read the arguments as given."""
    return _whole_numbers(json_format.MessageToDict(message))
