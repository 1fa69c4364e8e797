"""The floor for a unary call in grpc.aio: a SessionService whose GetSession
answers from memory, with no interceptors (auth, validation, access log,
error model) and no storage; likewise AppendEvents for the ingest stream. bench/run.py measures our server's CPU per call
against this one's in the same run.

    python bench/peers/bare_grpc.py PORT
"""

from __future__ import annotations

import asyncio
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "gen")]

import grpc  # noqa: E402

from agentruntime.v1 import session_pb2 as pb  # noqa: E402
from agentruntime.v1 import session_pb2_grpc  # noqa: E402


class BareSessions(session_pb2_grpc.SessionServiceServicer):
    async def GetSession(self, request, context):
        return pb.GetSessionResponse(session=pb.Session(session_id=request.session_id, session_name="bench"))

    async def AppendEvents(self, requests, context):
        # Acknowledges each event with itself: one read and one write per
        # event, the floor for a stream that acknowledges every event.
        async for request in requests:
            yield pb.AppendEventsResponse(event=request.event)


async def main(port: int) -> None:
    server = grpc.aio.server()
    session_pb2_grpc.add_SessionServiceServicer_to_server(BareSessions(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
