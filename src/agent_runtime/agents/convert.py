"""Records → proto messages (and the JSON dicts stored in run events)."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

from agentruntime.v1 import agent_pb2 as pb
from agent_runtime.clock import timestamp_proto
from agent_runtime.agents.inbox import InboxItem
from agent_runtime.agents.models import ApprovalRecord, ArtifactRecord, TaskEventRecord, TaskRecord


def approval_dict(approval: ApprovalRecord) -> dict[str, Any]:
    """The ToolApproval message as JSON (proto field names)."""
    data: dict[str, Any] = {
        "id": approval.approval_id,
        "task_id": approval.task_id,
        "call_id": approval.call_id,
        "tool_name": approval.tool_name,
        "arguments": approval.arguments,
        "reason": approval.reason,
        "status": approval.status,
        "decision": approval.decision,
        "feedback": approval.feedback,
        "created_at": approval.created_at,
    }
    if approval.modified_arguments is not None:
        data["modified_arguments"] = approval.modified_arguments
    if approval.expires_at:
        data["expires_at"] = approval.expires_at
    if approval.resolved_at:
        data["resolved_at"] = approval.resolved_at
    return data


def approval_to_proto(approval: ApprovalRecord) -> pb.ToolApproval:
    return json_format.ParseDict(approval_dict(approval), pb.ToolApproval())


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def plan_to_proto(plan: list[dict[str, str]] | None) -> pb.TaskPlan | None:
    if plan is None:
        return None
    return pb.TaskPlan(steps=[pb.PlanStep(id=s["id"], description=s["description"], status=s["status"]) for s in plan])


def task_to_proto(task: TaskRecord) -> pb.AgentTask:
    message = pb.AgentTask(
        id=task.task_id,
        description=task.description,
        status=task.status,
        created_at=task.created_at,
        iterations=task.iterations,
        session_id=task.session_id,
        model=task.model,
    )
    if task.completed_at:
        message.completed_at = task.completed_at
    # mini-devin's document always shows `plan`: no steps until the agent
    # makes one (SetInParent: an empty plan is still printed).
    message.plan.SetInParent()
    if task.plan is not None:
        message.plan.CopyFrom(plan_to_proto(task.plan))
    if task.result_success is not None:
        message.result.CopyFrom(pb.TaskResult(success=task.result_success, summary=task.result_summary or ""))
    if task.error_code:
        message.error_code = task.error_code
    return message


def artifact_to_proto(artifact: ArtifactRecord) -> pb.TaskArtifact:
    return pb.TaskArtifact(
        id=artifact.artifact_id, name=artifact.name, type=artifact.type, size=artifact.size, created_at=artifact.created_at
    )


def event_to_proto(event: TaskEventRecord) -> pb.TaskEvent:
    message = json_format.ParseDict(event.body, pb.TaskEvent(), ignore_unknown_fields=True)
    message.sequence = event.sequence
    return message


def inbox_item_to_proto(item: InboxItem) -> pb.InboxItem:
    message = pb.InboxItem(
        session_id=item.session_id,
        task_id=item.task_id,
        call_id=item.call_id,
        kind=item.kind,
        tool_name=item.tool_name,
        reason=item.reason,
        create_time=timestamp_proto(item.created_at),
    )
    message.arguments.update(item.arguments)
    return message
