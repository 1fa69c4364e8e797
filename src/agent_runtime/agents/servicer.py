"""gRPC AgentService: converts messages and calls AgentService."""

from __future__ import annotations

import functools
import inspect
from typing import AsyncIterator

from google.api import httpbody_pb2
from google.protobuf import json_format

from agent_runtime import __version__
from agentruntime.v1 import agent_pb2 as pb
from agentruntime.v1 import agent_pb2_grpc
from agent_runtime.agents.convert import (
    approval_to_proto,
    artifact_to_proto,
    event_to_proto,
    inbox_item_to_proto,
    task_to_proto,
)
from agent_runtime.agents.catalog import AGENT_TYPES, AGENT_TYPES_BY_NAME
from agent_runtime.agents.idempotency import IdempotencyKeys
from agent_runtime.errors import DomainError, NotFound
from agent_runtime.identity.ownership import new_owner, owner_scope, task_owner
from agent_runtime.agents.models import ClientTool, HitlSettings
from agent_runtime.agents.codelab import MessageReply
from agent_runtime.agents.service import AgentService, ProjectSessionView
from agent_runtime.interceptors import metadata_value
from agent_runtime.interceptors.auth import current_principal
from agent_runtime.jsonfmt import json_http_body, message_to_dict, struct_value

IDEMPOTENCY_HEADER = "idempotency-key"


def _session_status(status: str) -> str:
    return "active" if status == "running" else status


def project_session_to_proto(view: ProjectSessionView, *, listed: bool) -> pb.ProjectSession:
    session = view.session
    message = pb.ProjectSession(
        id=session.session_id,
        name=session.session_name,
        status=_session_status(session.status),
        working_directory=session.project_dir or "",
        created_at=session.created_at,
    )
    if listed:
        message.updated_at = session.updated_at
        message.task_count = view.task_count
    return message


def project_session_detail(view: ProjectSessionView) -> pb.ProjectSessionDetail:
    session = view.session
    return pb.ProjectSessionDetail(
        id=session.session_id,
        name=session.session_name,
        status=_session_status(session.status),
        working_directory=session.project_dir or "",
        created_at=session.created_at,
        updated_at=session.updated_at,
        tasks=[pb.AgentTaskSummary(id=t.task_id, description=t.description, status=t.status) for t in view.tasks],
    )


def _list_session_json(message: pb.ProjectSession) -> dict:
    # The documented list items carry no working_directory.
    data = message_to_dict(message)
    data.pop("working_directory", None)
    return data


def _list_task_json(message: pb.AgentTask) -> dict:
    # The list shows id, description, status, created_at, completed_at and
    # iterations; everything else is GetAgentTask's.
    data = message_to_dict(message)
    return {k: data[k] for k in ("id", "description", "status", "created_at", "completed_at", "iterations") if k in data}


def mini_devin_not_found(method):
    """mini-devin's routes answer a missing resource of any kind with the
    one code its document lists, NOT_FOUND; the detail still says what is
    missing (codelab's, for the same session, is SESSION_NOT_FOUND)."""
    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def stream(self, request, context):
            try:
                async for item in method(self, request, context):
                    yield item
            except NotFound as error:
                raise NotFound(error.detail) from None

        return stream

    @functools.wraps(method)
    async def unary(self, request, context):
        try:
            return await method(self, request, context)
        except NotFound as error:
            raise NotFound(error.detail) from None

    return unary


class AgentServicer(agent_pb2_grpc.AgentServiceServicer):
    def __init__(self, agents: AgentService, idempotency: IdempotencyKeys):
        self._agents = agents
        self._idempotency = idempotency

    async def _idempotent(self, context, scope: str, request, response_type, operation):
        key = metadata_value(context.invocation_metadata(), IDEMPOTENCY_HEADER)

        async def run() -> bytes:
            return (await operation()).SerializeToString()

        data = await self._idempotency.run(
            task_owner(), scope, key, request.SerializeToString(deterministic=True), run
        )
        return response_type.FromString(data)

    # agent-runtime-devin

    async def GetApiInfo(self, request, context) -> pb.GetApiInfoResponse:
        return _api_info()

    async def GetNinjaApiInfo(self, request, context) -> pb.GetApiInfoResponse:
        return _api_info(pydantic_models_available=True)

    async def ExecuteTask(self, request: pb.ExecuteTaskRequest, context) -> pb.ExecuteTaskResponse:
        async def operation():
            task = await self._agents.tasks.execute_task(
                request.prompt,
                dict(request.context),
                list(request.tools),
                owner=task_owner(),
                session_owner=new_owner(),
            )
            return pb.ExecuteTaskResponse(task_id=task.task_id, status="accepted", message="Task submitted for execution")

        return await self._idempotent(context, "ExecuteTask", request, pb.ExecuteTaskResponse, operation)

    async def GetTaskStatus(self, request: pb.GetTaskStatusRequest, context) -> pb.GetTaskStatusResponse:
        task = await self._agents.tasks.check_access(request.task_id, current_principal.get())
        return pb.GetTaskStatusResponse(task_id=task.task_id, status=task.status, result=task.result_summary or "")

    # Models and providers

    @mini_devin_not_found
    async def ListLlmModels(self, request: pb.ListLlmModelsRequest, context) -> pb.ListLlmModelsResponse:
        models = await self._agents.models.list_models(request.provider)
        return pb.ListLlmModelsResponse(
            models=[
                pb.LlmModel(
                    id=m.id,
                    name=m.name,
                    provider=m.provider,
                    context_window=m.context_window,
                    supports_vision=m.supports_vision,
                    supports_function_calling=m.supports_function_calling,
                )
                for m in models
            ]
        )

    async def ListLlmProviders(self, request: pb.ListLlmProvidersRequest, context) -> pb.ListLlmProvidersResponse:
        listings, default_model = await self._agents.models.list_providers()
        return pb.ListLlmProvidersResponse(
            providers=[
                pb.LlmProvider(id=p.info.id, name=p.info.name, configured=p.info.configured, models_count=p.models_count)
                for p in listings
            ],
            default_model=default_model,
        )

    # Project sessions

    async def CreateProjectSession(self, request: pb.CreateProjectSessionRequest, context) -> pb.ProjectSession:
        view = await self._agents.projects.create_project_session(
            request.name, request.working_directory, owner=new_owner()
        )
        return project_session_to_proto(view, listed=False)

    async def ListProjectSessions(self, request, context) -> pb.ListProjectSessionsResponse:
        views = await self._agents.projects.list_project_sessions(scope=owner_scope())
        return pb.ListProjectSessionsResponse(sessions=[project_session_to_proto(v, listed=True) for v in views])

    async def ListProjectSessionsJson(self, request, context) -> httpbody_pb2.HttpBody:
        views = await self._agents.projects.list_project_sessions(scope=owner_scope())
        return json_http_body([_list_session_json(project_session_to_proto(v, listed=True)) for v in views])

    @mini_devin_not_found
    async def GetProjectSession(self, request: pb.GetProjectSessionRequest, context) -> pb.ProjectSessionDetail:
        return project_session_detail(await self._agents.projects.get_project_session(request.session_id, scope=owner_scope()))

    @mini_devin_not_found
    async def DeleteProjectSession(self, request: pb.DeleteProjectSessionRequest, context) -> pb.DeleteProjectSessionResponse:
        await self._agents.projects.delete_project_session(request.session_id, scope=owner_scope())
        # REST answers 204 No Content, as documented (gateway/envoy_templates/rest_adapter.lua).
        await context.send_initial_metadata((("x-http-status", "204"),))
        return pb.DeleteProjectSessionResponse()

    # Tasks

    @mini_devin_not_found
    async def CreateAgentTask(self, request: pb.CreateAgentTaskRequest, context) -> pb.AgentTask:
        async def operation():
            task = await self._agents.tasks.create_task(
                request.session_id,
                request.description,
                owner=task_owner(),
                scope=owner_scope(),
                model=request.model,
                run_mode=request.run_mode,
                max_iterations=request.max_iterations,
                agent_type=request.agent_type,
            )
            message = task_to_proto(task)
            # The creation answer shows id, description, status, created_at.
            return pb.AgentTask(id=message.id, description=message.description, status=message.status, created_at=message.created_at)

        return await self._idempotent(context, "CreateAgentTask", request, pb.AgentTask, operation)

    @mini_devin_not_found
    async def ListAgentTasks(self, request: pb.ListAgentTasksRequest, context) -> pb.ListAgentTasksResponse:
        tasks = await self._agents.tasks.list_tasks(request.session_id, current_principal.get())
        return pb.ListAgentTasksResponse(tasks=[task_to_proto(t) for t in tasks])

    @mini_devin_not_found
    async def ListAgentTasksJson(self, request: pb.ListAgentTasksJsonRequest, context) -> httpbody_pb2.HttpBody:
        tasks = await self._agents.tasks.list_tasks(request.session_id, current_principal.get())
        return json_http_body([_list_task_json(task_to_proto(t)) for t in tasks])

    @mini_devin_not_found
    async def GetAgentTask(self, request: pb.GetAgentTaskRequest, context) -> pb.AgentTask:
        return task_to_proto(await self._agents.tasks.check_access(request.task_id, current_principal.get()))

    @mini_devin_not_found
    async def StopAgentTask(self, request: pb.StopAgentTaskRequest, context) -> pb.StopAgentTaskResponse:
        await self._agents.tasks.check_access(request.task_id, current_principal.get())
        task = await self._agents.tasks.stop_task(request.task_id)
        return pb.StopAgentTaskResponse(id=task.task_id, status=task.status)

    @mini_devin_not_found
    async def SendTaskInput(self, request: pb.SendTaskInputRequest, context) -> pb.SendTaskInputResponse:
        await self._agents.tasks.check_access(request.task_id, current_principal.get())
        await self._agents.tasks.send_input(request.task_id, request.content)
        return pb.SendTaskInputResponse(ok=True)

    # Approvals

    @mini_devin_not_found
    async def ListToolApprovals(self, request: pb.ListToolApprovalsRequest, context) -> pb.ListToolApprovalsResponse:
        await self._agents.tasks.check_access(request.task_id, current_principal.get())
        approvals = await self._agents.tasks.list_approvals(request.task_id, request.status)
        return pb.ListToolApprovalsResponse(approvals=[approval_to_proto(a) for a in approvals])

    @mini_devin_not_found
    async def DecideToolApproval(self, request: pb.DecideToolApprovalRequest, context) -> pb.ToolApproval:
        await self._agents.tasks.check_access(request.task_id, current_principal.get())

        async def operation():
            modified = json_format.MessageToDict(request.modified_arguments) if request.HasField("modified_arguments") else None
            approval = await self._agents.tasks.decide_approval(
                request.task_id, request.approval_id, request.decision, modified, request.feedback
            )
            return approval_to_proto(approval)

        return await self._idempotent(context, "DecideToolApproval", request, pb.ToolApproval, operation)

    # Artifacts

    @mini_devin_not_found
    async def ListTaskArtifacts(self, request: pb.ListTaskArtifactsRequest, context) -> pb.ListTaskArtifactsResponse:
        await self._agents.tasks.check_access(request.task_id, current_principal.get())
        artifacts = await self._agents.tasks.list_artifacts(request.task_id)
        return pb.ListTaskArtifactsResponse(artifacts=[artifact_to_proto(a) for a in artifacts])

    @mini_devin_not_found
    async def ListTaskArtifactsJson(self, request: pb.ListTaskArtifactsJsonRequest, context) -> httpbody_pb2.HttpBody:
        await self._agents.tasks.check_access(request.task_id, current_principal.get())
        artifacts = await self._agents.tasks.list_artifacts(request.task_id)
        return json_http_body([message_to_dict(artifact_to_proto(a)) for a in artifacts])

    @mini_devin_not_found
    async def GetTaskArtifact(self, request: pb.GetTaskArtifactRequest, context) -> httpbody_pb2.HttpBody:
        await self._agents.tasks.check_access(request.task_id, current_principal.get())
        artifact = await self._agents.tasks.get_artifact(request.task_id, request.artifact_id)
        return httpbody_pb2.HttpBody(content_type=artifact.content_type, data=artifact.content)

    # Live stream

    @mini_devin_not_found
    async def WatchAgentTask(self, request: pb.WatchAgentTaskRequest, context) -> AsyncIterator[pb.TaskEvent]:
        await self._agents.tasks.check_access(request.task_id, current_principal.get())
        async for event in self._agents.tasks.watch(request.task_id, request.after_sequence):
            yield event_to_proto(event)

    # Multi-agent sessions

    async def ListAgents(self, request: pb.ListAgentsRequest, context) -> pb.ListAgentsResponse:
        return pb.ListAgentsResponse(
            agents=[
                pb.AgentInfo(type=a.type, name=a.name, description=a.description, emoji=a.emoji, tools=a.tools, restrictions=a.restrictions)
                for a in AGENT_TYPES
            ]
        )

    async def GetCurrentAgent(self, request: pb.GetCurrentAgentRequest, context) -> pb.GetCurrentAgentResponse:
        state = await self._agents.codelab.current_agent(request.session_id, scope=owner_scope())

        def ref(name: str) -> pb.AgentRef:
            agent = AGENT_TYPES_BY_NAME[name]
            return pb.AgentRef(type=agent.type, name=agent.name, emoji=agent.emoji)

        response = pb.GetCurrentAgentResponse(
            session_id=state.session_id,
            current_agent=ref(state.current_agent),
            switch_count=state.switch_count,
            switch_history=[pb.AgentSwitch(from_agent=h.from_agent, to_agent=h.to_agent, reason=h.reason, timestamp=h.timestamp) for h in state.history],
        )
        if state.switched_at:
            response.current_agent.switched_at = state.switched_at
        if state.previous_agent:
            response.previous_agent.CopyFrom(ref(state.previous_agent))
        return response

    # Codelab sessions

    async def CreateCodelabSession(self, request: pb.CreateCodelabSessionRequest, context) -> pb.CreateCodelabSessionResponse:
        metadata = json_format.MessageToDict(request.metadata) if request.HasField("metadata") else {}
        hitl = HitlSettings(
            [
                ClientTool(
                    t.name,
                    t.description,
                    struct_value(t.parameters) if t.HasField("parameters") else {"type": "object", "properties": {}},
                )
                for t in request.client_tools
            ],
            request.require_plan_approval,
        )
        created = await self._agents.codelab.create_codelab_session(request.user_id, metadata, owner=new_owner(), hitl=hitl)
        return pb.CreateCodelabSessionResponse(session_id=created.session.session_id, created_at=created.session.created_at)

    async def GetCodelabSession(self, request: pb.GetCodelabSessionRequest, context) -> pb.CodelabSession:
        found = await self._agents.codelab.get_codelab_session(request.session_id, scope=owner_scope())
        message = pb.CodelabSession(
            session_id=found.session.session_id,
            user_id=found.user_id,
            created_at=found.session.created_at,
            last_activity=found.last_activity,
        )
        # Always present, `{}` when the client gave none.
        message.metadata.SetInParent()
        message.metadata.update(found.metadata)
        return message

    async def DeleteCodelabSession(self, request: pb.DeleteCodelabSessionRequest, context) -> pb.DeleteCodelabSessionResponse:
        await self._agents.codelab.delete_codelab_session(request.session_id, scope=owner_scope())
        return pb.DeleteCodelabSessionResponse(status="deleted")

    async def SendAgentMessage(self, request: pb.SendAgentMessageRequest, context) -> AsyncIterator[pb.AgentStreamEvent]:
        principal = current_principal.get()
        message = request.message
        reply = MessageReply(
            call_id=message.call_id,
            decision=message.decision,
            modified_arguments=_struct_or_none(message, "modified_arguments"),
            feedback=message.feedback,
            result=struct_value(message.result) if message.HasField("result") else None,
            error=message.error,
        )
        events = self._agents.codelab.send_message(
            request.session_id,
            message.type,
            message.content,
            message.agent_type,
            owner=task_owner(principal),
            scope=owner_scope(principal),
            reply=reply,
        )
        async for event in _stream(events, request.session_id):
            yield event

    async def ListPendingApprovals(self, request: pb.ListPendingApprovalsRequest, context) -> pb.ListPendingApprovalsResponse:
        approvals = await self._agents.codelab.pending_approvals(request.session_id, scope=owner_scope())
        response = pb.ListPendingApprovalsResponse()
        for approval in approvals:
            item = response.pending_approvals.add(call_id=approval.call_id, tool_name=approval.tool_name, reason=approval.reason)
            item.arguments.update(approval.arguments)
        return response

    async def ListInboxItems(self, request: pb.ListInboxItemsRequest, context) -> pb.ListInboxItemsResponse:
        items = await self._agents.inbox.items(scope=owner_scope())
        return pb.ListInboxItemsResponse(items=[inbox_item_to_proto(item) for item in items])

    async def SubmitHitlDecision(self, request: pb.SubmitHitlDecisionRequest, context) -> AsyncIterator[pb.AgentStreamEvent]:
        reply = MessageReply(
            call_id=request.call_id,
            decision=request.decision,
            modified_arguments=_struct_or_none(request, "modified_arguments"),
            feedback=request.feedback,
        )
        events = self._agents.codelab.hitl_decision(request.session_id, reply, scope=owner_scope())
        async for event in _stream(events, request.session_id):
            yield event

    async def ResumeAgentStream(self, request: pb.ResumeAgentStreamRequest, context) -> AsyncIterator[pb.AgentStreamEvent]:
        events = self._agents.codelab.resume_stream(request.task_id, request.after_sequence, current_principal.get())
        async for event in _stream(events, ""):
            yield event


def _api_info(**extra) -> pb.GetApiInfoResponse:
    return pb.GetApiInfoResponse(status="online", version=__version__, message="Agent Runtime API is running", **extra)


def _struct_or_none(message, field: str) -> dict | None:
    return struct_value(getattr(message, field)) if message.HasField(field) else None


async def _stream(events, session_id: str) -> AsyncIterator[pb.AgentStreamEvent]:
    """Codelab stream events as messages. Errors before the first event are
    the call's error; later ones are told in-band, since mid-stream a gRPC
    error reaches SSE clients as a silent end."""
    started = False
    try:
        async for event in events:
            started = True
            yield json_format.ParseDict(event, pb.AgentStreamEvent())
    except DomainError as error:
        if not started:
            raise
        yield pb.AgentStreamEvent(type="error", error=error.detail, code=error.code)
        yield pb.AgentStreamEvent(type="done", status="failed", session_id=session_id or None)
