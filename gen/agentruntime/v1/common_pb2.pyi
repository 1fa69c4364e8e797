from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
FIELD_RULES_FIELD_NUMBER: _ClassVar[int]
field_rules: _descriptor.FieldDescriptor
JSON_TWIN_FIELD_NUMBER: _ClassVar[int]
json_twin: _descriptor.FieldDescriptor

class ErrorBody(_message.Message):
    __slots__ = ("detail", "code", "timestamp", "errors")
    class ErrorsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    detail: str
    code: str
    timestamp: str
    errors: _containers.ScalarMap[str, str]
    def __init__(self, detail: _Optional[str] = ..., code: _Optional[str] = ..., timestamp: _Optional[str] = ..., errors: _Optional[_Mapping[str, str]] = ...) -> None: ...

class FieldRules(_message.Message):
    __slots__ = ("pattern", "minimum", "maximum", "min_length", "max_length")
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    MIN_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    minimum: int
    maximum: int
    min_length: int
    max_length: int
    def __init__(self, pattern: _Optional[str] = ..., minimum: _Optional[int] = ..., maximum: _Optional[int] = ..., min_length: _Optional[int] = ..., max_length: _Optional[int] = ...) -> None: ...

class JsonTwin(_message.Message):
    __slots__ = ("method", "body")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    method: str
    body: str
    def __init__(self, method: _Optional[str] = ..., body: _Optional[str] = ...) -> None: ...
