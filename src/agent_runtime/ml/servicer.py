"""gRPC MLService: converts messages and calls the ML domain class."""

from __future__ import annotations

from typing import Any, AsyncIterator

from google.api import httpbody_pb2
from google.protobuf import json_format

from agentruntime.v1 import ml_pb2 as pb
from agentruntime.v1 import ml_pb2_grpc
from agent_runtime.identity.ownership import new_owner, owner_scope, require_admin
from agent_runtime.jsonfmt import json_http_body, message_to_dict
from agent_runtime.ml.models import FileRecord, JobEvent, JobRecord, ModelRecord
from agent_runtime.ml.service import MLService


def _number_text(value: float) -> str:
    return str(int(value)) if isinstance(value, int) or float(value).is_integer() else repr(float(value))


def model_to_proto(model: ModelRecord) -> pb.ModelDetail:
    return pb.ModelDetail(
        id=model.id,
        name=model.name,
        version=model.version,
        description=model.description,
        parameters={k: _number_text(v) for k, v in model.parameters.items()},
        created_at=model.created_at,
        updated_at=model.updated_at,
    )


def model_to_json(model: ModelRecord) -> dict[str, Any]:
    """The REST shape: the typed message printed, `parameters` as numbers."""
    body = message_to_dict(model_to_proto(model))
    body["parameters"] = dict(model.parameters)
    return body


def file_to_proto(record: FileRecord) -> pb.File:
    return pb.File(
        id=record.id,
        object="file",
        bytes=record.bytes,
        created_at=record.created_at,
        filename=record.filename,
        purpose=record.purpose,
        line_count=record.line_count,
        format=record.format,
        status="processed",
    )


def job_to_proto(job: JobRecord) -> pb.FineTuningJobResponse:
    message = pb.FineTuningJobResponse(
        id=job.id,
        model_id=job.model_id,
        status=job.status,
        created_at=job.created_at,
        updated_at=job.updated_at,
        training_file=job.training_file,
        metrics=job.metrics or {},
    )
    if job.fine_tuned_model:
        message.fine_tuned_model = job.fine_tuned_model
    if job.validation_file:
        message.validation_file = job.validation_file
    if job.error:
        message.error = job.error
    return message


def job_to_json(job: JobRecord) -> dict[str, Any]:
    """The documented REST shape, `null` where the document shows null."""
    body = message_to_dict(job_to_proto(job))
    body["fine_tuned_model"] = job.fine_tuned_model
    body["validation_file"] = job.validation_file
    body["metrics"] = {k: float(v) for k, v in job.metrics.items()} if job.metrics else None
    body["error"] = job.error
    return body


def event_to_proto(event: JobEvent) -> pb.FineTuningJobEvent:
    return pb.FineTuningJobEvent(
        job_id=event.job_id,
        sequence=event.sequence,
        type=event.type,
        created_at=event.created_at,
        message=event.message,
        status=event.status,
        metrics=event.metrics or {},
        step=event.step,
    )


def _hyperparameters(request) -> dict[str, Any]:
    if not request.HasField("hyperparameters"):
        return {}
    return json_format.MessageToDict(request.hyperparameters, preserving_proto_field_name=True)


class MLServicer(ml_pb2_grpc.MLServiceServicer):
    def __init__(self, ml: MLService):
        self._ml = ml

    async def GetMLInfo(self, request, context) -> pb.GetMLInfoResponse:
        return pb.GetMLInfoResponse(**self._ml.info())

    async def ListModels(self, request, context) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=[model_to_proto(m) for m in await self._ml.list_models()])

    async def ListModelsJson(self, request, context) -> httpbody_pb2.HttpBody:
        return json_http_body([model_to_json(m) for m in await self._ml.list_models()])

    async def GetModel(self, request, context) -> pb.GetModelResponse:
        return pb.GetModelResponse(model=model_to_proto(await self._ml.get_model(request.model_id)))

    async def GetModelJson(self, request, context) -> httpbody_pb2.HttpBody:
        return json_http_body(model_to_json(await self._ml.get_model(request.model_id)))

    async def RegisterModel(self, request, context) -> pb.ModelDetail:
        # It reads a server path the caller names: a user could probe the
        # server's files with it.
        require_admin("Registering a model from a server path")
        parameters = json_format.MessageToDict(request.parameters) if request.HasField("parameters") else None
        model = await self._ml.register_model(
            request.path,
            model_id=request.id,
            name=request.name,
            version=request.version,
            description=request.description,
            parameters=parameters,
        )
        return model_to_proto(model)

    async def UploadFile(self, request, context) -> pb.File:
        record = await self._ml.upload_file(
            request.http_body.data, request.http_body.content_type, request.filename, request.purpose,
            owner=new_owner(),
        )
        return file_to_proto(record)

    async def ListFiles(self, request, context) -> pb.ListFilesResponse:
        return pb.ListFilesResponse(object="list", data=[file_to_proto(f) for f in await self._ml.list_files(owner_scope())])

    async def GetFile(self, request, context) -> pb.File:
        return file_to_proto(await self._ml.get_file(request.file_id, owner_scope()))

    async def DeleteFile(self, request, context) -> pb.DeleteFileResponse:
        await self._ml.delete_file(request.file_id, owner_scope())
        return pb.DeleteFileResponse(id=request.file_id, object="file", deleted=True)

    async def CreateFineTuningJob(self, request, context) -> pb.FineTuningJobResponse:
        job = await self._ml.create_job(
            request.model_id,
            request.training_file,
            request.validation_file,
            request.suffix,
            dict(request.compute_config),
            _hyperparameters(request),
            owner=new_owner(),
            scope=owner_scope(),
        )
        return job_to_proto(job)

    async def CreateFineTuningJobJson(self, request, context) -> httpbody_pb2.HttpBody:
        compute_config = json_format.MessageToDict(request.compute_config) if request.HasField("compute_config") else {}
        job = await self._ml.create_job(
            request.model_id,
            request.training_file,
            request.validation_file,
            request.suffix,
            compute_config,
            _hyperparameters(request),
            owner=new_owner(),
            scope=owner_scope(),
        )
        return json_http_body(job_to_json(job))

    async def ListFineTuningJobs(self, request, context) -> pb.ListFineTuningJobsResponse:
        return pb.ListFineTuningJobsResponse(jobs=[job_to_proto(j) for j in await self._ml.list_jobs(owner_scope())])

    async def ListFineTuningJobsJson(self, request, context) -> httpbody_pb2.HttpBody:
        return json_http_body([job_to_json(j) for j in await self._ml.list_jobs(owner_scope())])

    async def GetFineTuningJob(self, request, context) -> pb.FineTuningJobResponse:
        return job_to_proto(await self._ml.get_job(request.job_id, owner_scope()))

    async def GetFineTuningJobJson(self, request, context) -> httpbody_pb2.HttpBody:
        return json_http_body(job_to_json(await self._ml.get_job(request.job_id, owner_scope())))

    async def CancelFineTuningJob(self, request, context) -> pb.CancelFineTuningJobResponse:
        await self._ml.cancel_job(request.job_id, owner_scope())
        return pb.CancelFineTuningJobResponse(status="success", message=f"Job {request.job_id} cancelled")

    async def ResumeFineTuningJob(self, request, context) -> httpbody_pb2.HttpBody:
        return json_http_body(job_to_json(await self._ml.resume_job(request.job_id, owner_scope())))

    async def WatchFineTuningJob(self, request, context) -> AsyncIterator[pb.FineTuningJobEvent]:
        async for event in self._ml.watch_job(request.job_id, request.after_sequence, owner_scope()):
            yield event_to_proto(event)
