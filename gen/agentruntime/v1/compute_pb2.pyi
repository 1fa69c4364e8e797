import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetServiceInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetServiceInfoResponse(_message.Message):
    __slots__ = ("name", "version", "status")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    status: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class GetHealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthMetrics(_message.Message):
    __slots__ = ("gpu_utilization", "memory_usage", "active_tasks", "ai_tasks_processed")
    GPU_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USAGE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_TASKS_FIELD_NUMBER: _ClassVar[int]
    AI_TASKS_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    gpu_utilization: float
    memory_usage: float
    active_tasks: int
    ai_tasks_processed: int
    def __init__(self, gpu_utilization: _Optional[float] = ..., memory_usage: _Optional[float] = ..., active_tasks: _Optional[int] = ..., ai_tasks_processed: _Optional[int] = ...) -> None: ...

class MultiAgentInfo(_message.Message):
    __slots__ = ("enabled", "default_agent", "agents_count")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_AGENT_FIELD_NUMBER: _ClassVar[int]
    AGENTS_COUNT_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    default_agent: str
    agents_count: int
    def __init__(self, enabled: _Optional[bool] = ..., default_agent: _Optional[str] = ..., agents_count: _Optional[int] = ...) -> None: ...

class GetHealthResponse(_message.Message):
    __slots__ = ("status", "timestamp", "service", "version", "devices", "metrics", "dependencies", "multi_agent", "uptime_seconds")
    class DependenciesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    MULTI_AGENT_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    status: str
    timestamp: _timestamp_pb2.Timestamp
    service: str
    version: str
    devices: int
    metrics: HealthMetrics
    dependencies: _containers.ScalarMap[str, str]
    multi_agent: MultiAgentInfo
    uptime_seconds: float
    def __init__(self, status: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., service: _Optional[str] = ..., version: _Optional[str] = ..., devices: _Optional[int] = ..., metrics: _Optional[_Union[HealthMetrics, _Mapping]] = ..., dependencies: _Optional[_Mapping[str, str]] = ..., multi_agent: _Optional[_Union[MultiAgentInfo, _Mapping]] = ..., uptime_seconds: _Optional[float] = ...) -> None: ...
