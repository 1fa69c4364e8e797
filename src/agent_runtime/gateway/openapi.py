"""Derives an OpenAPI 3.1 document from the descriptor set Envoy loads: one
operation per `google.api.http` rule (additional bindings included), request
and response schemas from the messages as the transcoder prints them
(proto field names, zero values printed), comments as descriptions, and the
common error body on every operation."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2

from agentruntime.v1 import common_pb2

from agent_runtime import __version__
from agent_runtime.gateway.envoy import DESCRIPTOR_SET, PROTO_PACKAGE, SSE_METHODS, descriptor_files, http_rules, json_twin, verb_and_path
from agent_runtime.interceptors.auth import OPEN_METHODS

F = descriptor_pb2.FieldDescriptorProto
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
ERROR_SCHEMA = f"{PROTO_PACKAGE}.ErrorBody"
ERROR_STATUSES = {
    "400": "Bad request: malformed JSON, wrong types or invalid values",
    "401": "Missing or invalid credentials",
    "404": "Not found",
    "409": "Conflict",
    "413": "Request body too large",
    "422": "Validation error",
    "429": "Rate limited",
    "500": "Internal error",
}
_SCALARS: dict[int, dict[str, Any]] = {
    F.TYPE_DOUBLE: {"type": "number"},
    F.TYPE_FLOAT: {"type": "number"},
    # The transcoder prints 64-bit integers as strings and accepts both.
    F.TYPE_INT64: {"type": ["string", "integer"], "format": "int64"},
    F.TYPE_UINT64: {"type": ["string", "integer"], "format": "uint64"},
    F.TYPE_SINT64: {"type": ["string", "integer"], "format": "int64"},
    F.TYPE_FIXED64: {"type": ["string", "integer"], "format": "uint64"},
    F.TYPE_SFIXED64: {"type": ["string", "integer"], "format": "int64"},
    F.TYPE_INT32: {"type": "integer", "format": "int32"},
    F.TYPE_SINT32: {"type": "integer", "format": "int32"},
    F.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    F.TYPE_UINT32: {"type": "integer", "format": "uint32", "minimum": 0},
    F.TYPE_FIXED32: {"type": "integer", "format": "uint32", "minimum": 0},
    F.TYPE_BOOL: {"type": "boolean"},
    F.TYPE_STRING: {"type": "string"},
    F.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?\d+(\.\d+)?s$"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.StringValue": {"type": ["string", "null"]},
    "google.protobuf.BoolValue": {"type": ["boolean", "null"]},
    "google.protobuf.Int32Value": {"type": ["integer", "null"]},
    "google.protobuf.Int64Value": {"type": ["string", "integer", "null"]},
    "google.protobuf.DoubleValue": {"type": ["number", "null"]},
    "google.protobuf.FloatValue": {"type": ["number", "null"]},
}
HTTP_BODY = "google.api.HttpBody"
# pyproject.toml's `license` (tests/test_openapi.py checks they agree).
LICENSE = {"name": "Apache-2.0", "identifier": "Apache-2.0"}
# Markdown, shown at the top of /docs: what the operations below cannot say.
DESCRIPTION = """\
REST surface transcoded by Envoy from the gRPC services in `proto/agentruntime/v1`
(native gRPC on the gRPC port, with reflection). Authenticate with the `X-API-Key` header
(or `Authorization: Bearer <token>` from `POST /api/auth/login`): use **Authorize** before a try-it call.
Errors are `{"detail", "code", "timestamp"}`.

**Server-sent events.** `POST /agent/message/stream`, `POST /sessions/{session_id}/hitl-decision` and
`GET /agent/runs/{task_id}/stream?after_sequence=N` answer `text/event-stream`: one `data: {…}` line per
event, each with the `sequence` to resume after (the try-it panel shows the stream once it has ended).

**WebSocket.** `ws://HOST/ws` (header `x-api-key`, or `?token=` from a browser) sends `connected`, `init`,
then `event`, `session_created`, `session_updated`, `session_deleted`, `task_update` and `heartbeat`
messages; `?session_id=ID&after_sequence=N` resumes one session's events after sequence N.
`ws://HOST/ws/tasks/{task_id}` streams one mini-devin task.
"""
_PATH_VARIABLE = re.compile(r"\{([^}=]+)(=[^}]*)?\}")


class _Catalog:
    """Messages, enums and comments of every file in the set, by full name."""

    def __init__(self, files: tuple[descriptor_pb2.FileDescriptorProto, ...]):
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.comments: dict[tuple[str, tuple[int, ...]], str] = {}
        self.message_paths: dict[str, tuple[str, tuple[int, ...]]] = {}
        for file in files:
            for location in file.source_code_info.location:
                if location.leading_comments:
                    self.comments[(file.name, tuple(location.path))] = _clean(location.leading_comments)
            for index, message in enumerate(file.message_type):
                self._add_message(file, f"{file.package}.{message.name}", message, (4, index))
            for enum in file.enum_type:
                self.enums[f"{file.package}.{enum.name}"] = enum

    def _add_message(self, file, name: str, message, path: tuple[int, ...]) -> None:
        self.messages[name] = message
        self.message_paths[name] = (file.name, path)
        for index, nested in enumerate(message.nested_type):
            self._add_message(file, f"{name}.{nested.name}", nested, (*path, 3, index))
        for enum in message.enum_type:
            self.enums[f"{name}.{enum.name}"] = enum

    def field_comment(self, message_name: str, field_index: int) -> str | None:
        file_name, path = self.message_paths[message_name]
        return self.comments.get((file_name, (*path, 2, field_index)))

    def message_comment(self, message_name: str) -> str | None:
        file_name, path = self.message_paths[message_name]
        return self.comments.get((file_name, path))


def _clean(comment: str) -> str:
    return " ".join(line.strip() for line in comment.strip().splitlines())


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


class _Builder:
    def __init__(self, catalog: _Catalog):
        self.catalog = catalog
        self.schemas: dict[str, Any] = {}

    def message_schema(self, name: str, *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
        """Inline schema of a message without the `skip` fields (path params)."""
        message = self.catalog.messages[name]
        properties, required = {}, []
        for index, field in enumerate(message.field):
            if field.name in skip:
                continue
            schema = {**self.field_schema(field), **_rules_schema(field)}
            behaviours = field.options.Extensions[field_behavior_pb2.field_behavior]
            if field_behavior_pb2.OUTPUT_ONLY in behaviours:
                schema["readOnly"] = True
            if field_behavior_pb2.REQUIRED in behaviours:
                required.append(field.name)
            comment = self.catalog.field_comment(name, index)
            if comment:
                schema["description"] = comment
            properties[field.name] = schema
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        comment = self.catalog.message_comment(name)
        if comment:
            schema["description"] = comment
        return schema

    def type_schema(self, type_name: str) -> dict[str, Any]:
        name = type_name.lstrip(".")
        if name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[name])
        if name == HTTP_BODY:
            return {}
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder against recursion
            self.schemas[name] = self.message_schema(name)
        return _ref(name)

    def field_schema(self, field: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
        if field.type == F.TYPE_MESSAGE:
            entry = self.catalog.messages.get(field.type_name.lstrip("."))
            if entry is not None and entry.options.map_entry:
                return {"type": "object", "additionalProperties": self.field_schema(entry.field[1])}
            single = self.type_schema(field.type_name)
        elif field.type == F.TYPE_ENUM:
            enum = self.catalog.enums[field.type_name.lstrip(".")]
            single = {"type": "string", "enum": [value.name for value in enum.value]}
        else:
            single = dict(_SCALARS[field.type])
        if field.label == F.LABEL_REPEATED:
            return {"type": "array", "items": single}
        return single


def _rules_schema(field: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
    """JSON Schema keywords for the field's `field_rules` option."""
    if not field.options.HasExtension(common_pb2.field_rules):
        return {}
    rules = field.options.Extensions[common_pb2.field_rules]
    keywords: dict[str, Any] = {}
    if rules.pattern:
        keywords["pattern"] = rules.pattern
    if rules.min_length:
        keywords["minLength"] = rules.min_length
    if rules.max_length:
        keywords["maxLength"] = rules.max_length
    if rules.HasField("minimum"):
        keywords["minimum"] = rules.minimum
    if rules.HasField("maximum"):
        keywords["maximum"] = rules.maximum
    if field.label == F.LABEL_REPEATED and keywords:
        return {"items": keywords}
    return keywords


def _query_parameters(builder: _Builder, message_name: str, exclude: set[str]) -> list[dict[str, Any]]:
    parameters = []
    message = builder.catalog.messages[message_name]
    for index, field in enumerate(message.field):
        if field.name in exclude or field.type == F.TYPE_MESSAGE:
            continue
        schema = {**builder.field_schema(field), **_rules_schema(field)}
        parameter: dict[str, Any] = {"name": field.name, "in": "query", "required": False, "schema": schema}
        comment = builder.catalog.field_comment(message_name, index)
        if comment:
            parameter["description"] = comment
        parameters.append(parameter)
    return parameters


def _error_responses() -> dict[str, Any]:
    return {
        status: {"description": text, "content": {"application/json": {"schema": _ref(ERROR_SCHEMA)}}}
        for status, text in ERROR_STATUSES.items()
    }


def build_document(descriptor_path: pathlib.Path = DESCRIPTOR_SET) -> dict[str, Any]:
    files = descriptor_files(descriptor_path)
    catalog = _Catalog(files)
    builder = _Builder(catalog)
    builder.type_schema(ERROR_SCHEMA)
    paths: dict[str, dict[str, Any]] = {}
    tags = []
    for file in files:
        if file.package != PROTO_PACKAGE:
            continue
        for service_index, service in enumerate(file.service):
            service_comment = catalog.comments.get((file.name, (6, service_index)))
            tags.append({"name": service.name, **({"description": service_comment} if service_comment else {})})
            indexes = {method.name: index for index, method in enumerate(service.method)}
            for method_index, method in enumerate(service.method):
                # A JSON twin's routes are described as its typed RPC's.
                twin = json_twin(method)
                described_index = indexes[twin.method] if twin is not None else method_index
                described = service.method[described_index]
                comment = catalog.comments.get((file.name, (6, service_index, 2, described_index)))
                for number, rule in enumerate(http_rules(method)):
                    verb, template = verb_and_path(rule)
                    typed = (described, twin.body) if twin is not None else None
                    operation = _operation(builder, service.name, method, rule, template, comment, typed)
                    operation["operationId"] = f"{service.name}_{described.name}" + (f"_{number}" if number else "")
                    if f"/{file.package}.{service.name}/{method.name}" in OPEN_METHODS:
                        operation["security"] = []
                    path = _PATH_VARIABLE.sub(lambda match: "{" + match.group(1) + "}", template)
                    paths.setdefault(path, {})[verb] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Agent Runtime",
            "version": __version__,
            "description": DESCRIPTION,
            "license": LICENSE,
        },
        # Relative: the document is served by the server it describes, so
        # try-it calls go to the origin the reader opened; then the default.
        "servers": [
            {"url": "/", "description": "The server that serves this document"},
            {"url": "http://localhost:8000", "description": "A local server on the default port (scripts/serve)"},
        ],
        "tags": tags,
        "components": {
            "schemas": dict(sorted(builder.schemas.items())),
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"apiKey": []}, {"bearer": []}],
        "paths": dict(sorted(paths.items())),
    }


def _operation(builder: _Builder, service: str, method, rule, template: str, comment: str | None, typed=None) -> dict[str, Any]:
    """`typed`: for a JSON twin, its typed RPC and the field of that RPC's
    request that the body holds: they describe the body and the answer."""
    request_name = method.input_type.lstrip(".")
    response_name = (typed[0] if typed else method).output_type.lstrip(".")
    path_fields = {match.group(1).split(".")[0] for match in _PATH_VARIABLE.finditer(template)}
    operation: dict[str, Any] = {"tags": [service]}
    if comment:
        operation["summary"] = comment.split(". ")[0].rstrip(".")
        operation["description"] = comment
    request_fields = {field.name: field for field in builder.catalog.messages[request_name].field} if request_name != HTTP_BODY else {}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", **(_rules_schema(request_fields[name]) if name in request_fields else {})}}
        for name in sorted(path_fields)
    ]
    if rule.body == "*":
        if request_name == HTTP_BODY:
            body_schema: dict[str, Any] = {}
        else:
            body_schema = builder.message_schema(request_name, skip=frozenset(path_fields))
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body_schema}}}
    elif rule.body:
        body_message, body_name = (typed[0].input_type.lstrip("."), typed[1]) if typed else (request_name, rule.body)
        body_field = next(f for f in builder.catalog.messages[body_message].field if f.name == body_name)
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": builder.field_schema(body_field)}}}
        parameters += _query_parameters(builder, request_name, path_fields | {rule.body})
    else:
        parameters += _query_parameters(builder, request_name, path_fields)
    if parameters:
        operation["parameters"] = parameters
    if response_name == HTTP_BODY:
        success = {"description": "OK", "content": {"*/*": {"schema": {}}}}
    elif rule.response_body:
        field = next(f for f in builder.catalog.messages[response_name].field if f.name == rule.response_body)
        success = {"description": "OK", "content": {"application/json": {"schema": builder.field_schema(field)}}}
    else:
        schema = builder.type_schema(response_name)
        if f"{PROTO_PACKAGE}.{service}.{method.name}" in SSE_METHODS:
            # One event per message, its `data` the message's JSON (the
            # OpenAPI 3.1 way: `contentSchema` describes the string).
            event = {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": schema},
                    "event": {"type": "string"},
                    "id": {"type": "string"},
                },
            }
            success = {"description": "Server-sent events: one `data: {…}` line per message", "content": {"text/event-stream": {"schema": event}}}
        elif method.server_streaming:
            success = {
                "description": "A stream of messages",
                "content": {"application/json": {"schema": {"type": "array", "items": schema}}},
            }
        else:
            success = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    if response_name != HTTP_BODY and not builder.catalog.messages[response_name].field and not method.server_streaming:
        # Field-less responses are answered with 204 (the servicer sets
        # x-http-status, which the Lua filter applies).
        operation["responses"] = {"204": {"description": "No Content"}, **_error_responses()}
        return operation
    operation["responses"] = {"200": success, **_error_responses()}
    return operation


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
