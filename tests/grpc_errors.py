"""Reading our error model off a failed gRPC call: its status code and the
ErrorInfo whose `reason` is the code REST clients see in the body."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


def error_info(failure: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    info = error_details_pb2.ErrorInfo()
    rpc_status.from_call(failure).details[0].Unpack(info)
    return info


async def refusal(call) -> tuple[grpc.StatusCode, str]:
    """Awaits a unary call that must fail; its status code and reason."""
    try:
        answer = await call
    except grpc.aio.AioRpcError as failure:
        return failure.code(), error_info(failure).reason
    raise AssertionError(f"the call succeeded: {answer}")


async def stream_refusal(call) -> tuple[grpc.StatusCode, str]:
    """`refusal` for a server stream: its first read must fail."""
    try:
        answer = await call.read()
    except grpc.aio.AioRpcError as failure:
        return failure.code(), error_info(failure).reason
    finally:
        call.cancel()
    raise AssertionError(f"the stream answered: {answer}")
