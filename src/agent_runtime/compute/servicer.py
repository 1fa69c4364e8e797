"""gRPC ComputeService: service info and health (devices and tasks follow in
the compute issue)."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from agentruntime.v1 import compute_pb2 as pb
from agentruntime.v1 import compute_pb2_grpc
from agent_runtime import __version__
from agent_runtime.health import HealthReporter

PRODUCT_NAME = "Agent Runtime"


class ComputeServicer(compute_pb2_grpc.ComputeServiceServicer):
    def __init__(self, health: HealthReporter):
        self._health = health

    async def GetServiceInfo(self, request, context) -> pb.GetServiceInfoResponse:
        return pb.GetServiceInfoResponse(name=PRODUCT_NAME, version=__version__, status="running")

    async def GetHealth(self, request, context) -> pb.GetHealthResponse:
        report = await self._health.report()
        now = timestamp_pb2.Timestamp()
        now.GetCurrentTime()
        return pb.GetHealthResponse(
            status=report.status,
            timestamp=now,
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
