from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorBody(_message.Message):
    __slots__ = ("detail", "code", "timestamp")
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    detail: str
    code: str
    timestamp: str
    def __init__(self, detail: _Optional[str] = ..., code: _Optional[str] = ..., timestamp: _Optional[str] = ...) -> None: ...
