"""The gRPC server part: every servicer, the call interceptor (admission,
draining), health and reflection, on the configured address."""

from __future__ import annotations

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from agentruntime.v1 import agent_pb2, agent_pb2_grpc
from agentruntime.v1 import compute_pb2, compute_pb2_grpc, docs_pb2, docs_pb2_grpc, session_pb2, session_pb2_grpc
from agentruntime.v1 import identity_pb2, identity_pb2_grpc
from agentruntime.v1 import ml_pb2, ml_pb2_grpc
from agent_runtime.agents.servicer import AgentServicer
from agent_runtime.compute.servicer import ComputeServicer
from agent_runtime.config import ServerSettings
from agent_runtime.gateway.docs import DocsServicer
from agent_runtime.identity.servicer import IdentityServicer
from agent_runtime.interceptors.auth import Admission
from agent_runtime.interceptors.call import CallInterceptor
from agent_runtime.interceptors.draining import Draining
from agent_runtime.lifecycle import StartupError
from agent_runtime.ml.servicer import MLServicer
from agent_runtime.sessions.servicer import SessionServicer

log = structlog.get_logger(__name__)

SERVICE_NAMES = (
    session_pb2.DESCRIPTOR.services_by_name["SessionService"].full_name,
    compute_pb2.DESCRIPTOR.services_by_name["ComputeService"].full_name,
    docs_pb2.DESCRIPTOR.services_by_name["DocsService"].full_name,
    identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name,
    ml_pb2.DESCRIPTOR.services_by_name["MLService"].full_name,
    agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name,
)
# Largest request metadata (headers) the gRPC server accepts.
MAX_METADATA_BYTES = 96 * 1024


class GrpcServer:
    """Serves the servicers once started; `drain` marks it NOT_SERVING and
    lets in-flight calls finish (SHUTDOWN_GRACE_SECONDS) before it stops."""

    def __init__(
        self,
        settings: ServerSettings,
        admission: Admission,
        *,
        sessions: SessionServicer,
        compute: ComputeServicer,
        docs: DocsServicer,
        identity: IdentityServicer,
        ml: MLServicer,
        agents: AgentServicer,
    ):
        self._settings = settings
        self._draining = Draining()
        self._server = grpc.aio.server(
            interceptors=[CallInterceptor(admission, self._draining)],
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", settings.max_request_bytes),
                # Above Envoy's 60 KiB header limit, so that an oversized
                # credential reaches the auth check (401) instead of being cut
                # off by gRPC (RESOURCE_EXHAUSTED, which REST would show as 429).
                ("grpc.max_metadata_size", MAX_METADATA_BYTES),
                ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
            ],
        )
        session_pb2_grpc.add_SessionServiceServicer_to_server(sessions, self._server)
        compute_pb2_grpc.add_ComputeServiceServicer_to_server(compute, self._server)
        docs_pb2_grpc.add_DocsServiceServicer_to_server(docs, self._server)
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(identity, self._server)
        ml_pb2_grpc.add_MLServiceServicer_to_server(ml, self._server)
        agent_pb2_grpc.add_AgentServiceServicer_to_server(agents, self._server)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), self._server)
        self.port = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        address = f"{self._settings.grpc_host}:{self._settings.grpc_port}"
        try:
            self.port = self._server.add_insecure_port(address)
        except RuntimeError as error:
            raise StartupError(f"gRPC port {address} cannot be bound: {error}") from None
        await self._server.start()
        for name in (*SERVICE_NAMES, ""):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("grpc.listening", address=f"{self._settings.grpc_host}:{self.port}")

    async def announce_draining(self) -> None:
        """Health NOT_SERVING: load balancers and clients stop sending."""
        await self._health.enter_graceful_shutdown()

    async def drain(self) -> None:
        """New calls are refused; those in flight get the grace period."""
        self._draining.begin()
        await self._server.stop(self._settings.shutdown_grace_seconds)

    async def stop(self) -> None:
        await self._server.stop(0)
