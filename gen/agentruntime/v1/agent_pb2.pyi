import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from agentruntime.v1 import common_pb2 as _common_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LlmModel(_message.Message):
    __slots__ = ("id", "name", "provider", "context_window", "supports_vision", "supports_function_calling")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_VISION_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_FUNCTION_CALLING_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    provider: str
    context_window: int
    supports_vision: bool
    supports_function_calling: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., provider: _Optional[str] = ..., context_window: _Optional[int] = ..., supports_vision: _Optional[bool] = ..., supports_function_calling: _Optional[bool] = ...) -> None: ...

class LlmProvider(_message.Message):
    __slots__ = ("id", "name", "configured", "models_count")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIGURED_FIELD_NUMBER: _ClassVar[int]
    MODELS_COUNT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    configured: bool
    models_count: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., configured: _Optional[bool] = ..., models_count: _Optional[int] = ...) -> None: ...

class ProjectSession(_message.Message):
    __slots__ = ("id", "name", "status", "working_directory", "created_at", "updated_at", "task_count")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    TASK_COUNT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    status: str
    working_directory: str
    created_at: str
    updated_at: str
    task_count: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[str] = ..., working_directory: _Optional[str] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ..., task_count: _Optional[int] = ...) -> None: ...

class ProjectSessionDetail(_message.Message):
    __slots__ = ("id", "name", "status", "working_directory", "created_at", "updated_at", "tasks")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    status: str
    working_directory: str
    created_at: str
    updated_at: str
    tasks: _containers.RepeatedCompositeFieldContainer[AgentTaskSummary]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[str] = ..., working_directory: _Optional[str] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ..., tasks: _Optional[_Iterable[_Union[AgentTaskSummary, _Mapping]]] = ...) -> None: ...

class AgentTaskSummary(_message.Message):
    __slots__ = ("id", "description", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    description: str
    status: str
    def __init__(self, id: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class PlanStep(_message.Message):
    __slots__ = ("id", "description", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    description: str
    status: str
    def __init__(self, id: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class TaskPlan(_message.Message):
    __slots__ = ("steps",)
    STEPS_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[PlanStep]
    def __init__(self, steps: _Optional[_Iterable[_Union[PlanStep, _Mapping]]] = ...) -> None: ...

class TaskResult(_message.Message):
    __slots__ = ("success", "summary")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    success: bool
    summary: str
    def __init__(self, success: _Optional[bool] = ..., summary: _Optional[str] = ...) -> None: ...

class AgentTask(_message.Message):
    __slots__ = ("id", "description", "status", "created_at", "completed_at", "iterations", "plan", "result", "session_id", "model", "error_code")
    ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    id: str
    description: str
    status: str
    created_at: str
    completed_at: str
    iterations: int
    plan: TaskPlan
    result: TaskResult
    session_id: str
    model: str
    error_code: str
    def __init__(self, id: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[str] = ..., created_at: _Optional[str] = ..., completed_at: _Optional[str] = ..., iterations: _Optional[int] = ..., plan: _Optional[_Union[TaskPlan, _Mapping]] = ..., result: _Optional[_Union[TaskResult, _Mapping]] = ..., session_id: _Optional[str] = ..., model: _Optional[str] = ..., error_code: _Optional[str] = ...) -> None: ...

class ToolApproval(_message.Message):
    __slots__ = ("id", "task_id", "call_id", "tool_name", "arguments", "reason", "status", "decision", "modified_arguments", "feedback", "created_at", "expires_at", "resolved_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    task_id: str
    call_id: str
    tool_name: str
    arguments: _struct_pb2.Struct
    reason: str
    status: str
    decision: str
    modified_arguments: _struct_pb2.Struct
    feedback: str
    created_at: str
    expires_at: str
    resolved_at: str
    def __init__(self, id: _Optional[str] = ..., task_id: _Optional[str] = ..., call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., reason: _Optional[str] = ..., status: _Optional[str] = ..., decision: _Optional[str] = ..., modified_arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., feedback: _Optional[str] = ..., created_at: _Optional[str] = ..., expires_at: _Optional[str] = ..., resolved_at: _Optional[str] = ...) -> None: ...

class TaskArtifact(_message.Message):
    __slots__ = ("id", "name", "type", "size", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    type: str
    size: int
    created_at: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[str] = ..., size: _Optional[int] = ..., created_at: _Optional[str] = ...) -> None: ...

class TaskEvent(_message.Message):
    __slots__ = ("type", "sequence", "timestamp", "content", "tool", "input", "output", "success", "plan", "status", "message", "error", "code", "approval", "task_id", "from_agent", "to_agent", "reason", "call_id", "client_side", "waiting_for")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_AGENT_FIELD_NUMBER: _ClassVar[int]
    TO_AGENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SIDE_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FIELD_NUMBER: _ClassVar[int]
    type: str
    sequence: int
    timestamp: str
    content: str
    tool: str
    input: _struct_pb2.Struct
    output: str
    success: bool
    plan: TaskPlan
    status: str
    message: str
    error: str
    code: str
    approval: ToolApproval
    task_id: str
    from_agent: str
    to_agent: str
    reason: str
    call_id: str
    client_side: bool
    waiting_for: str
    def __init__(self, type: _Optional[str] = ..., sequence: _Optional[int] = ..., timestamp: _Optional[str] = ..., content: _Optional[str] = ..., tool: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., output: _Optional[str] = ..., success: _Optional[bool] = ..., plan: _Optional[_Union[TaskPlan, _Mapping]] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., error: _Optional[str] = ..., code: _Optional[str] = ..., approval: _Optional[_Union[ToolApproval, _Mapping]] = ..., task_id: _Optional[str] = ..., from_agent: _Optional[str] = ..., to_agent: _Optional[str] = ..., reason: _Optional[str] = ..., call_id: _Optional[str] = ..., client_side: _Optional[bool] = ..., waiting_for: _Optional[str] = ...) -> None: ...

class ExecuteTaskRequest(_message.Message):
    __slots__ = ("prompt", "context", "tools")
    class ContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    context: _containers.ScalarMap[str, str]
    tools: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, prompt: _Optional[str] = ..., context: _Optional[_Mapping[str, str]] = ..., tools: _Optional[_Iterable[str]] = ...) -> None: ...

class ExecuteTaskResponse(_message.Message):
    __slots__ = ("task_id", "status", "message")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    status: str
    message: str
    def __init__(self, task_id: _Optional[str] = ..., status: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class GetTaskStatusRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class GetTaskStatusResponse(_message.Message):
    __slots__ = ("task_id", "status", "result")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    status: str
    result: str
    def __init__(self, task_id: _Optional[str] = ..., status: _Optional[str] = ..., result: _Optional[str] = ...) -> None: ...

class ListLlmModelsRequest(_message.Message):
    __slots__ = ("provider",)
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    provider: str
    def __init__(self, provider: _Optional[str] = ...) -> None: ...

class ListLlmModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[LlmModel]
    def __init__(self, models: _Optional[_Iterable[_Union[LlmModel, _Mapping]]] = ...) -> None: ...

class ListLlmProvidersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListLlmProvidersResponse(_message.Message):
    __slots__ = ("providers", "default_model")
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    providers: _containers.RepeatedCompositeFieldContainer[LlmProvider]
    default_model: str
    def __init__(self, providers: _Optional[_Iterable[_Union[LlmProvider, _Mapping]]] = ..., default_model: _Optional[str] = ...) -> None: ...

class CreateProjectSessionRequest(_message.Message):
    __slots__ = ("name", "working_directory")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    name: str
    working_directory: str
    def __init__(self, name: _Optional[str] = ..., working_directory: _Optional[str] = ...) -> None: ...

class ListProjectSessionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListProjectSessionsJsonRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListProjectSessionsResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[ProjectSession]
    def __init__(self, sessions: _Optional[_Iterable[_Union[ProjectSession, _Mapping]]] = ...) -> None: ...

class GetProjectSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class DeleteProjectSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class DeleteProjectSessionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateAgentTaskRequest(_message.Message):
    __slots__ = ("session_id", "description", "model", "run_mode", "max_iterations", "agent_type")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RUN_MODE_FIELD_NUMBER: _ClassVar[int]
    MAX_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    AGENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    description: str
    model: str
    run_mode: str
    max_iterations: int
    agent_type: str
    def __init__(self, session_id: _Optional[str] = ..., description: _Optional[str] = ..., model: _Optional[str] = ..., run_mode: _Optional[str] = ..., max_iterations: _Optional[int] = ..., agent_type: _Optional[str] = ...) -> None: ...

class ListAgentTasksRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ListAgentTasksJsonRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ListAgentTasksResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[AgentTask]
    def __init__(self, tasks: _Optional[_Iterable[_Union[AgentTask, _Mapping]]] = ...) -> None: ...

class GetAgentTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class StopAgentTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class StopAgentTaskResponse(_message.Message):
    __slots__ = ("id", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: str
    def __init__(self, id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class SendTaskInputRequest(_message.Message):
    __slots__ = ("task_id", "content")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    content: str
    def __init__(self, task_id: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class SendTaskInputResponse(_message.Message):
    __slots__ = ("ok",)
    OK_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    def __init__(self, ok: _Optional[bool] = ...) -> None: ...

class ListToolApprovalsRequest(_message.Message):
    __slots__ = ("task_id", "status")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    status: str
    def __init__(self, task_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class ListToolApprovalsResponse(_message.Message):
    __slots__ = ("approvals",)
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    approvals: _containers.RepeatedCompositeFieldContainer[ToolApproval]
    def __init__(self, approvals: _Optional[_Iterable[_Union[ToolApproval, _Mapping]]] = ...) -> None: ...

class DecideToolApprovalRequest(_message.Message):
    __slots__ = ("task_id", "approval_id", "decision", "modified_arguments", "feedback")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    approval_id: str
    decision: str
    modified_arguments: _struct_pb2.Struct
    feedback: str
    def __init__(self, task_id: _Optional[str] = ..., approval_id: _Optional[str] = ..., decision: _Optional[str] = ..., modified_arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., feedback: _Optional[str] = ...) -> None: ...

class ListTaskArtifactsRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class ListTaskArtifactsJsonRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class ListTaskArtifactsResponse(_message.Message):
    __slots__ = ("artifacts",)
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    artifacts: _containers.RepeatedCompositeFieldContainer[TaskArtifact]
    def __init__(self, artifacts: _Optional[_Iterable[_Union[TaskArtifact, _Mapping]]] = ...) -> None: ...

class GetTaskArtifactRequest(_message.Message):
    __slots__ = ("task_id", "artifact_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    artifact_id: str
    def __init__(self, task_id: _Optional[str] = ..., artifact_id: _Optional[str] = ...) -> None: ...

class WatchAgentTaskRequest(_message.Message):
    __slots__ = ("task_id", "after_sequence")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    after_sequence: int
    def __init__(self, task_id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class AgentInfo(_message.Message):
    __slots__ = ("type", "name", "description", "emoji", "tools", "restrictions")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EMOJI_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    RESTRICTIONS_FIELD_NUMBER: _ClassVar[int]
    type: str
    name: str
    description: str
    emoji: str
    tools: _containers.RepeatedScalarFieldContainer[str]
    restrictions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, type: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., emoji: _Optional[str] = ..., tools: _Optional[_Iterable[str]] = ..., restrictions: _Optional[_Iterable[str]] = ...) -> None: ...

class AgentRef(_message.Message):
    __slots__ = ("type", "name", "emoji", "switched_at")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EMOJI_FIELD_NUMBER: _ClassVar[int]
    SWITCHED_AT_FIELD_NUMBER: _ClassVar[int]
    type: str
    name: str
    emoji: str
    switched_at: str
    def __init__(self, type: _Optional[str] = ..., name: _Optional[str] = ..., emoji: _Optional[str] = ..., switched_at: _Optional[str] = ...) -> None: ...

class AgentSwitch(_message.Message):
    __slots__ = ("from_agent", "to_agent", "reason", "timestamp")
    FROM_AGENT_FIELD_NUMBER: _ClassVar[int]
    TO_AGENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    from_agent: str
    to_agent: str
    reason: str
    timestamp: str
    def __init__(self, from_agent: _Optional[str] = ..., to_agent: _Optional[str] = ..., reason: _Optional[str] = ..., timestamp: _Optional[str] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentInfo]
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentInfo, _Mapping]]] = ...) -> None: ...

class GetCurrentAgentRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetCurrentAgentResponse(_message.Message):
    __slots__ = ("session_id", "current_agent", "previous_agent", "switch_count", "switch_history")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_AGENT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_AGENT_FIELD_NUMBER: _ClassVar[int]
    SWITCH_COUNT_FIELD_NUMBER: _ClassVar[int]
    SWITCH_HISTORY_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    current_agent: AgentRef
    previous_agent: AgentRef
    switch_count: int
    switch_history: _containers.RepeatedCompositeFieldContainer[AgentSwitch]
    def __init__(self, session_id: _Optional[str] = ..., current_agent: _Optional[_Union[AgentRef, _Mapping]] = ..., previous_agent: _Optional[_Union[AgentRef, _Mapping]] = ..., switch_count: _Optional[int] = ..., switch_history: _Optional[_Iterable[_Union[AgentSwitch, _Mapping]]] = ...) -> None: ...

class CodelabSession(_message.Message):
    __slots__ = ("session_id", "user_id", "created_at", "last_activity", "metadata")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    created_at: str
    last_activity: str
    metadata: _struct_pb2.Struct
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., created_at: _Optional[str] = ..., last_activity: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ClientTool(_message.Message):
    __slots__ = ("name", "description", "parameters")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: _struct_pb2.Struct
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CreateCodelabSessionRequest(_message.Message):
    __slots__ = ("user_id", "metadata", "client_tools", "require_plan_approval")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TOOLS_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_PLAN_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    metadata: _struct_pb2.Struct
    client_tools: _containers.RepeatedCompositeFieldContainer[ClientTool]
    require_plan_approval: bool
    def __init__(self, user_id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., client_tools: _Optional[_Iterable[_Union[ClientTool, _Mapping]]] = ..., require_plan_approval: _Optional[bool] = ...) -> None: ...

class CreateCodelabSessionResponse(_message.Message):
    __slots__ = ("session_id", "created_at")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    created_at: str
    def __init__(self, session_id: _Optional[str] = ..., created_at: _Optional[str] = ...) -> None: ...

class GetCodelabSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class DeleteCodelabSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class DeleteCodelabSessionResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: str
    def __init__(self, status: _Optional[str] = ...) -> None: ...

class AgentMessage(_message.Message):
    __slots__ = ("type", "content", "agent_type", "call_id", "decision", "modified_arguments", "feedback", "result", "error")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    AGENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    type: str
    content: str
    agent_type: str
    call_id: str
    decision: str
    modified_arguments: _struct_pb2.Struct
    feedback: str
    result: _struct_pb2.Value
    error: str
    def __init__(self, type: _Optional[str] = ..., content: _Optional[str] = ..., agent_type: _Optional[str] = ..., call_id: _Optional[str] = ..., decision: _Optional[str] = ..., modified_arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., feedback: _Optional[str] = ..., result: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class SendAgentMessageRequest(_message.Message):
    __slots__ = ("session_id", "message")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    message: AgentMessage
    def __init__(self, session_id: _Optional[str] = ..., message: _Optional[_Union[AgentMessage, _Mapping]] = ...) -> None: ...

class AgentStreamEvent(_message.Message):
    __slots__ = ("type", "token", "is_final", "from_agent", "to_agent", "reason", "call_id", "tool_name", "arguments", "result", "success", "error", "code", "approval_id", "status", "task_id", "session_id", "client_side", "plan", "sequence")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    FROM_AGENT_FIELD_NUMBER: _ClassVar[int]
    TO_AGENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SIDE_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    type: str
    token: str
    is_final: bool
    from_agent: str
    to_agent: str
    reason: str
    call_id: str
    tool_name: str
    arguments: _struct_pb2.Struct
    result: str
    success: bool
    error: str
    code: str
    approval_id: str
    status: str
    task_id: str
    session_id: str
    client_side: bool
    plan: TaskPlan
    sequence: int
    def __init__(self, type: _Optional[str] = ..., token: _Optional[str] = ..., is_final: _Optional[bool] = ..., from_agent: _Optional[str] = ..., to_agent: _Optional[str] = ..., reason: _Optional[str] = ..., call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., result: _Optional[str] = ..., success: _Optional[bool] = ..., error: _Optional[str] = ..., code: _Optional[str] = ..., approval_id: _Optional[str] = ..., status: _Optional[str] = ..., task_id: _Optional[str] = ..., session_id: _Optional[str] = ..., client_side: _Optional[bool] = ..., plan: _Optional[_Union[TaskPlan, _Mapping]] = ..., sequence: _Optional[int] = ...) -> None: ...

class PendingApproval(_message.Message):
    __slots__ = ("call_id", "tool_name", "arguments", "reason")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    tool_name: str
    arguments: _struct_pb2.Struct
    reason: str
    def __init__(self, call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ListPendingApprovalsRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ListPendingApprovalsResponse(_message.Message):
    __slots__ = ("pending_approvals",)
    PENDING_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    pending_approvals: _containers.RepeatedCompositeFieldContainer[PendingApproval]
    def __init__(self, pending_approvals: _Optional[_Iterable[_Union[PendingApproval, _Mapping]]] = ...) -> None: ...

class ListInboxItemsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InboxItem(_message.Message):
    __slots__ = ("session_id", "task_id", "call_id", "kind", "tool_name", "arguments", "reason", "create_time")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    task_id: str
    call_id: str
    kind: str
    tool_name: str
    arguments: _struct_pb2.Struct
    reason: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., task_id: _Optional[str] = ..., call_id: _Optional[str] = ..., kind: _Optional[str] = ..., tool_name: _Optional[str] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., reason: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListInboxItemsResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[InboxItem]
    def __init__(self, items: _Optional[_Iterable[_Union[InboxItem, _Mapping]]] = ...) -> None: ...

class GetApiInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetNinjaApiInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetApiInfoResponse(_message.Message):
    __slots__ = ("status", "version", "message", "pydantic_models_available")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PYDANTIC_MODELS_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    status: str
    version: str
    message: str
    pydantic_models_available: bool
    def __init__(self, status: _Optional[str] = ..., version: _Optional[str] = ..., message: _Optional[str] = ..., pydantic_models_available: _Optional[bool] = ...) -> None: ...

class ResumeAgentStreamRequest(_message.Message):
    __slots__ = ("task_id", "after_sequence")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    after_sequence: int
    def __init__(self, task_id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class SubmitHitlDecisionRequest(_message.Message):
    __slots__ = ("session_id", "call_id", "decision", "modified_arguments", "feedback")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    call_id: str
    decision: str
    modified_arguments: _struct_pb2.Struct
    feedback: str
    def __init__(self, session_id: _Optional[str] = ..., call_id: _Optional[str] = ..., decision: _Optional[str] = ..., modified_arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., feedback: _Optional[str] = ...) -> None: ...
