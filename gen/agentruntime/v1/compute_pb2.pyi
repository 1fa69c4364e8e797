import datetime

from agentruntime.v1 import common_pb2 as _common_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Device(_message.Message):
    __slots__ = ("id", "name", "type", "status", "capabilities", "memory_total", "memory_available", "backend", "compute_units")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_FIELD_NUMBER: _ClassVar[int]
    MEMORY_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_UNITS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    type: str
    status: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    memory_total: float
    memory_available: float
    backend: str
    compute_units: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[str] = ..., status: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., memory_total: _Optional[float] = ..., memory_available: _Optional[float] = ..., backend: _Optional[str] = ..., compute_units: _Optional[int] = ...) -> None: ...

class ListDevicesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListDevicesResponse(_message.Message):
    __slots__ = ("devices",)
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    def __init__(self, devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ...) -> None: ...

class CreateTaskRequest(_message.Message):
    __slots__ = ("operation", "parameters", "device_preference", "priority", "timeout", "wait")
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_PREFERENCE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    operation: str
    parameters: _struct_pb2.Struct
    device_preference: str
    priority: int
    timeout: float
    wait: bool
    def __init__(self, operation: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., device_preference: _Optional[str] = ..., priority: _Optional[int] = ..., timeout: _Optional[float] = ..., wait: _Optional[bool] = ...) -> None: ...

class ComputeTaskResult(_message.Message):
    __slots__ = ("execution_time", "device_used", "output")
    EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    DEVICE_USED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    execution_time: float
    device_used: str
    output: _struct_pb2.Struct
    def __init__(self, execution_time: _Optional[float] = ..., device_used: _Optional[str] = ..., output: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ComputeTask(_message.Message):
    __slots__ = ("task_id", "status", "result", "execution_time", "timestamp", "operation", "priority", "error", "queue_time_ms")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    QUEUE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    status: str
    result: ComputeTaskResult
    execution_time: float
    timestamp: _timestamp_pb2.Timestamp
    operation: str
    priority: int
    error: str
    queue_time_ms: float
    def __init__(self, task_id: _Optional[str] = ..., status: _Optional[str] = ..., result: _Optional[_Union[ComputeTaskResult, _Mapping]] = ..., execution_time: _Optional[float] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., operation: _Optional[str] = ..., priority: _Optional[int] = ..., error: _Optional[str] = ..., queue_time_ms: _Optional[float] = ...) -> None: ...

class ListTasksEnhancedRequest(_message.Message):
    __slots__ = ("limit", "offset")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    limit: int
    offset: int
    def __init__(self, limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class PerformanceMetrics(_message.Message):
    __slots__ = ("execution_time_ms", "memory_used_mb", "gpu_utilization", "queue_time_ms", "gflops", "bandwidth_gb_s")
    EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_MB_FIELD_NUMBER: _ClassVar[int]
    GPU_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    QUEUE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    GFLOPS_FIELD_NUMBER: _ClassVar[int]
    BANDWIDTH_GB_S_FIELD_NUMBER: _ClassVar[int]
    execution_time_ms: float
    memory_used_mb: float
    gpu_utilization: float
    queue_time_ms: float
    gflops: float
    bandwidth_gb_s: float
    def __init__(self, execution_time_ms: _Optional[float] = ..., memory_used_mb: _Optional[float] = ..., gpu_utilization: _Optional[float] = ..., queue_time_ms: _Optional[float] = ..., gflops: _Optional[float] = ..., bandwidth_gb_s: _Optional[float] = ...) -> None: ...

class EnhancedTask(_message.Message):
    __slots__ = ("task_id", "operation", "status", "performance_metrics", "timestamp", "device_used", "priority", "error")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PERFORMANCE_METRICS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DEVICE_USED_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    operation: str
    status: str
    performance_metrics: PerformanceMetrics
    timestamp: _timestamp_pb2.Timestamp
    device_used: str
    priority: int
    error: str
    def __init__(self, task_id: _Optional[str] = ..., operation: _Optional[str] = ..., status: _Optional[str] = ..., performance_metrics: _Optional[_Union[PerformanceMetrics, _Mapping]] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., device_used: _Optional[str] = ..., priority: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class ListTasksEnhancedResponse(_message.Message):
    __slots__ = ("tasks", "total_count", "timestamp")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[EnhancedTask]
    total_count: int
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, tasks: _Optional[_Iterable[_Union[EnhancedTask, _Mapping]]] = ..., total_count: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class CancelTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class GetMetricsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetMetricsResponse(_message.Message):
    __slots__ = ("gpu_utilization", "memory_usage", "active_tasks", "ai_tasks_processed", "uptime", "timestamp", "cpu_utilization", "queued_tasks", "tasks_completed", "tasks_failed", "uptime_seconds", "devices")
    GPU_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USAGE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_TASKS_FIELD_NUMBER: _ClassVar[int]
    AI_TASKS_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CPU_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    QUEUED_TASKS_FIELD_NUMBER: _ClassVar[int]
    TASKS_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    TASKS_FAILED_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    gpu_utilization: float
    memory_usage: float
    active_tasks: int
    ai_tasks_processed: int
    uptime: str
    timestamp: _timestamp_pb2.Timestamp
    cpu_utilization: float
    queued_tasks: int
    tasks_completed: int
    tasks_failed: int
    uptime_seconds: float
    devices: int
    def __init__(self, gpu_utilization: _Optional[float] = ..., memory_usage: _Optional[float] = ..., active_tasks: _Optional[int] = ..., ai_tasks_processed: _Optional[int] = ..., uptime: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cpu_utilization: _Optional[float] = ..., queued_tasks: _Optional[int] = ..., tasks_completed: _Optional[int] = ..., tasks_failed: _Optional[int] = ..., uptime_seconds: _Optional[float] = ..., devices: _Optional[int] = ...) -> None: ...

class GetMetricSeriesRequest(_message.Message):
    __slots__ = ("timeframe", "max_points")
    TIMEFRAME_FIELD_NUMBER: _ClassVar[int]
    MAX_POINTS_FIELD_NUMBER: _ClassVar[int]
    timeframe: str
    max_points: int
    def __init__(self, timeframe: _Optional[str] = ..., max_points: _Optional[int] = ...) -> None: ...

class MetricPoint(_message.Message):
    __slots__ = ("timestamp", "sample_count", "cpu_utilization", "memory_usage", "gpu_utilization", "active_tasks", "queued_tasks", "tasks_per_minute", "avg_execution_ms")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CPU_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USAGE_FIELD_NUMBER: _ClassVar[int]
    GPU_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_TASKS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_TASKS_FIELD_NUMBER: _ClassVar[int]
    TASKS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    AVG_EXECUTION_MS_FIELD_NUMBER: _ClassVar[int]
    timestamp: _timestamp_pb2.Timestamp
    sample_count: int
    cpu_utilization: float
    memory_usage: float
    gpu_utilization: float
    active_tasks: float
    queued_tasks: float
    tasks_per_minute: float
    avg_execution_ms: float
    def __init__(self, timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sample_count: _Optional[int] = ..., cpu_utilization: _Optional[float] = ..., memory_usage: _Optional[float] = ..., gpu_utilization: _Optional[float] = ..., active_tasks: _Optional[float] = ..., queued_tasks: _Optional[float] = ..., tasks_per_minute: _Optional[float] = ..., avg_execution_ms: _Optional[float] = ...) -> None: ...

class GetMetricSeriesResponse(_message.Message):
    __slots__ = ("timeframe", "start_time", "end_time", "sample_count", "bucket_seconds", "points")
    TIMEFRAME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_SECONDS_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    timeframe: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    sample_count: int
    bucket_seconds: float
    points: _containers.RepeatedCompositeFieldContainer[MetricPoint]
    def __init__(self, timeframe: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sample_count: _Optional[int] = ..., bucket_seconds: _Optional[float] = ..., points: _Optional[_Iterable[_Union[MetricPoint, _Mapping]]] = ...) -> None: ...

class GetPrometheusMetricsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GenerateInsightsRequest(_message.Message):
    __slots__ = ("metric_type", "timeframe")
    METRIC_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMEFRAME_FIELD_NUMBER: _ClassVar[int]
    metric_type: str
    timeframe: str
    def __init__(self, metric_type: _Optional[str] = ..., timeframe: _Optional[str] = ...) -> None: ...

class InsightMetrics(_message.Message):
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

class GenerateInsightsResponse(_message.Message):
    __slots__ = ("insights", "metrics", "timestamp", "analysis", "analyzer", "sample_count")
    INSIGHTS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    insights: str
    metrics: InsightMetrics
    timestamp: _timestamp_pb2.Timestamp
    analysis: _struct_pb2.Struct
    analyzer: str
    sample_count: int
    def __init__(self, insights: _Optional[str] = ..., metrics: _Optional[_Union[InsightMetrics, _Mapping]] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., analysis: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., analyzer: _Optional[str] = ..., sample_count: _Optional[int] = ...) -> None: ...

class AIAgent(_message.Message):
    __slots__ = ("role", "name", "description", "capabilities", "workflow_type")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    role: str
    name: str
    description: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    workflow_type: str
    def __init__(self, role: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., workflow_type: _Optional[str] = ...) -> None: ...

class ListAIAgentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAIAgentsResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AIAgent]
    def __init__(self, agents: _Optional[_Iterable[_Union[AIAgent, _Mapping]]] = ...) -> None: ...

class CreateAITaskRequest(_message.Message):
    __slots__ = ("workflow_type", "prompt", "parameters", "timeout")
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    prompt: str
    parameters: _struct_pb2.Struct
    timeout: int
    def __init__(self, workflow_type: _Optional[str] = ..., prompt: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., timeout: _Optional[int] = ...) -> None: ...

class AITask(_message.Message):
    __slots__ = ("task_id", "status", "result", "model_used", "tokens_used", "execution_time")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MODEL_USED_FIELD_NUMBER: _ClassVar[int]
    TOKENS_USED_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    status: str
    result: str
    model_used: str
    tokens_used: int
    execution_time: float
    def __init__(self, task_id: _Optional[str] = ..., status: _Optional[str] = ..., result: _Optional[str] = ..., model_used: _Optional[str] = ..., tokens_used: _Optional[int] = ..., execution_time: _Optional[float] = ...) -> None: ...

class WatchTasksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchTasksResponse(_message.Message):
    __slots__ = ("task_id", "status", "execution_time", "operation", "device_used", "error", "timestamp")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_USED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    status: str
    execution_time: float
    operation: str
    device_used: str
    error: str
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, task_id: _Optional[str] = ..., status: _Optional[str] = ..., execution_time: _Optional[float] = ..., operation: _Optional[str] = ..., device_used: _Optional[str] = ..., error: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

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
