"""gRPC ComputeService: converts messages and calls the compute domain
classes (tasks, devices, metrics, insights)."""

from __future__ import annotations

import dataclasses

from google.api import httpbody_pb2
from google.protobuf import json_format, struct_pb2, timestamp_pb2

from agentruntime.v1 import compute_pb2 as pb
from agentruntime.v1 import compute_pb2_grpc
from agent_runtime import __version__
from agent_runtime.clock import datetime_proto, timestamp_proto
from agent_runtime.health import HealthReporter
from agent_runtime.identity.ownership import new_owner, owner_scope

PRODUCT_NAME = "Agent Runtime"
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _now() -> timestamp_pb2.Timestamp:
    now = timestamp_pb2.Timestamp()
    now.GetCurrentTime()
    return now


def _struct(value: dict) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def task_to_proto(record) -> pb.ComputeTask:
    task = pb.ComputeTask(
        task_id=record.task_id,
        status=record.status,
        execution_time=record.execution_time,
        timestamp=timestamp_proto(record.updated_at),
        operation=record.operation,
        priority=record.priority,
        error=record.error,
        queue_time_ms=record.queue_time_ms,
    )
    if record.status == "completed" and record.output is not None:
        task.result.CopyFrom(
            pb.ComputeTaskResult(
                execution_time=record.execution_time, device_used=record.device_used, output=_struct(record.output)
            )
        )
    return task


def enhanced_to_proto(record) -> pb.EnhancedTask:
    return pb.EnhancedTask(
        task_id=record.task_id,
        operation=record.operation,
        status=record.status,
        performance_metrics=pb.PerformanceMetrics(
            execution_time_ms=round(record.execution_time * 1000, 3),
            memory_used_mb=record.memory_used_mb,
            gpu_utilization=record.gpu_utilization,
            queue_time_ms=record.queue_time_ms,
            gflops=record.gflops,
            bandwidth_gb_s=record.bandwidth_gb_s,
        ),
        timestamp=timestamp_proto(record.updated_at),
        device_used=record.device_used,
        priority=record.priority,
        error=record.error,
    )


def update_to_proto(record) -> pb.WatchTasksResponse:
    return pb.WatchTasksResponse(
        task_id=record.task_id,
        status=record.status,
        execution_time=record.execution_time,
        operation=record.operation,
        device_used=record.device_used,
        error=record.error,
        timestamp=timestamp_proto(record.updated_at),
    )


class ComputeServicer(compute_pb2_grpc.ComputeServiceServicer):
    def __init__(self, health: HealthReporter, compute=None, metrics=None, insights=None, ai_tasks=None, series=None):
        self._health = health
        self._compute = compute
        self._metrics = metrics
        self._insights = insights
        self._ai_tasks = ai_tasks
        self._series = series

    async def GetServiceInfo(self, request, context) -> pb.GetServiceInfoResponse:
        return pb.GetServiceInfoResponse(name=PRODUCT_NAME, version=__version__, status="running")

    async def GetHealth(self, request, context) -> pb.GetHealthResponse:
        report = await self._health.report()
        return pb.GetHealthResponse(
            status=report.status,
            timestamp=_now(),
            service=report.service,
            version=report.version,
            devices=report.devices,
            metrics=pb.HealthMetrics(
                gpu_utilization=report.gpu_utilization,
                memory_usage=report.memory_usage,
                active_tasks=report.active_tasks,
                ai_tasks_processed=report.ai_tasks_processed,
            ),
            dependencies=report.dependencies,
            multi_agent=pb.MultiAgentInfo(
                enabled=report.multi_agent.enabled,
                default_agent=report.multi_agent.default_agent,
                agents_count=report.agents_count,
            ),
            uptime_seconds=report.uptime_seconds,
        )

    async def ListDevices(self, request, context) -> pb.ListDevicesResponse:
        return pb.ListDevicesResponse(
            devices=[pb.Device(**dataclasses.asdict(state)) for state in self._compute.device_states()]
        )

    async def CreateTask(self, request: pb.CreateTaskRequest, context) -> pb.ComputeTask:
        record = await self._compute.submit(
            request.operation,
            json_format.MessageToDict(request.parameters),
            device_preference=request.device_preference,
            priority=request.priority if request.HasField("priority") else None,
            timeout=request.timeout if request.HasField("timeout") else None,
            wait=request.wait if request.HasField("wait") else True,
            owner=new_owner(),
        )
        return task_to_proto(record)

    async def ListTasksEnhanced(self, request: pb.ListTasksEnhancedRequest, context) -> pb.ListTasksEnhancedResponse:
        tasks, total = await self._compute.list_tasks(request.limit, request.offset, owner_scope())
        return pb.ListTasksEnhancedResponse(
            tasks=[enhanced_to_proto(t) for t in tasks], total_count=total, timestamp=_now()
        )

    async def GetTask(self, request: pb.GetTaskRequest, context) -> pb.ComputeTask:
        return task_to_proto(await self._compute.get(request.task_id, owner_scope()))

    async def CancelTask(self, request: pb.CancelTaskRequest, context) -> pb.ComputeTask:
        return task_to_proto(await self._compute.cancel(request.task_id, owner_scope()))

    async def GetMetrics(self, request, context) -> pb.GetMetricsResponse:
        from agent_runtime.compute.metrics import format_uptime

        snap = self._metrics.snapshot()
        return pb.GetMetricsResponse(
            gpu_utilization=snap.gpu_utilization,
            memory_usage=snap.memory_usage,
            active_tasks=snap.active_tasks,
            ai_tasks_processed=snap.ai_tasks_processed,
            uptime=format_uptime(snap.uptime_seconds),
            timestamp=_now(),
            cpu_utilization=snap.cpu_utilization,
            queued_tasks=snap.queued_tasks,
            tasks_completed=snap.tasks_completed,
            tasks_failed=snap.tasks_failed,
            uptime_seconds=snap.uptime_seconds,
            devices=snap.devices,
        )

    async def GetPrometheusMetrics(self, request, context) -> httpbody_pb2.HttpBody:
        return httpbody_pb2.HttpBody(content_type=PROMETHEUS_CONTENT_TYPE, data=self._metrics.prometheus_text().encode())

    async def GetMetricSeries(self, request: pb.GetMetricSeriesRequest, context) -> pb.GetMetricSeriesResponse:
        series = await self._series.series(request.timeframe, request.max_points)
        return pb.GetMetricSeriesResponse(
            timeframe=series.timeframe,
            start_time=datetime_proto(series.start),
            end_time=datetime_proto(series.end),
            sample_count=series.sample_count,
            bucket_seconds=series.bucket_seconds,
            points=[
                pb.MetricPoint(timestamp=datetime_proto(point.at), sample_count=point.sample_count, **point.values)
                for point in series.points
            ],
        )

    async def GenerateInsights(self, request: pb.GenerateInsightsRequest, context) -> pb.GenerateInsightsResponse:
        report = await self._insights.generate(request.metric_type, request.timeframe)
        snap = self._metrics.snapshot()
        return pb.GenerateInsightsResponse(
            insights=report.text,
            metrics=pb.InsightMetrics(
                gpu_utilization=report.averages["gpu_utilization"],
                memory_usage=report.averages["memory_usage"],
                active_tasks=snap.active_tasks,
                ai_tasks_processed=snap.ai_tasks_processed,
            ),
            timestamp=_now(),
            analysis=_struct(report.analysis),
            analyzer=report.analyzer,
            sample_count=report.sample_count,
        )

    async def ListAIAgents(self, request, context) -> pb.ListAIAgentsResponse:
        return pb.ListAIAgentsResponse(
            agents=[
                pb.AIAgent(
                    role=r.role, name=r.name, description=r.description, capabilities=r.capabilities,
                    workflow_type=r.workflow_type,
                )
                for r in self._ai_tasks.roles()
            ]
        )

    async def CreateAITask(self, request: pb.CreateAITaskRequest, context) -> pb.AITask:
        result = await self._ai_tasks.run(
            request.workflow_type,
            request.prompt,
            json_format.MessageToDict(request.parameters),
            timeout=request.timeout if request.HasField("timeout") else None,
        )
        return pb.AITask(**dataclasses.asdict(result))

    async def WatchTasks(self, request, context):
        async for record in self._compute.watch(owner_scope()):
            if record is None:
                yield pb.WatchTasksResponse(status="watching", timestamp=_now())
            else:
                yield update_to_proto(record)
