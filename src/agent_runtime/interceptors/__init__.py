"""Server interceptors. A grpc.aio ServerInterceptor only sees call details, so
each one here wraps the method handler's behaviour (as the grpc-interceptor
package does) to act around the call itself."""

from __future__ import annotations

import contextvars
import inspect
from typing import Any, AsyncIterator, Awaitable, Callable

import grpc

UnaryBehaviour = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamBehaviour = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]

# Headers every response of the current call carries (the rate-limit
# headers): sent as initial metadata on success, added to the trailers of a
# trailers-only error response by the error interceptor.
response_headers: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "response_headers", default=()
)


class HandlerInterceptor(grpc.aio.ServerInterceptor):
    """Base class: override `around_unary` and `around_stream`."""

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        metadata = handler_call_details.invocation_metadata
        if handler.unary_unary:
            return _replace(handler, "unary_unary", self._wrap_unary(handler.unary_unary, method, metadata))
        if handler.stream_unary:
            return _replace(handler, "stream_unary", self._wrap_unary(handler.stream_unary, method, metadata))
        if handler.unary_stream:
            return _replace(handler, "unary_stream", self._wrap_stream(handler.unary_stream, method, metadata))
        return _replace(handler, "stream_stream", self._wrap_stream(handler.stream_stream, method, metadata))

    def _wrap_unary(self, behaviour, method: str, metadata) -> UnaryBehaviour:
        async def wrapped(request, context):
            return await self.around_unary(_as_coroutine(behaviour), request, context, method, metadata)

        return wrapped

    def _wrap_stream(self, behaviour, method: str, metadata) -> StreamBehaviour:
        async def wrapped(request, context):
            async for response in self.around_stream(_as_async_iter(behaviour), request, context, method, metadata):
                yield response

        return wrapped

    async def around_unary(self, behaviour: UnaryBehaviour, request, context, method: str, metadata):
        return await behaviour(request, context)

    async def around_stream(self, behaviour: StreamBehaviour, request, context, method: str, metadata):
        async for response in behaviour(request, context):
            yield response


def _replace(handler: grpc.RpcMethodHandler, field: str, behaviour) -> grpc.RpcMethodHandler:
    return handler._replace(**{field: behaviour})


def _as_coroutine(behaviour) -> UnaryBehaviour:
    if inspect.iscoroutinefunction(behaviour):
        return behaviour

    async def call(request, context):
        result = behaviour(request, context)
        return await result if inspect.isawaitable(result) else result

    return call


def _as_async_iter(behaviour) -> StreamBehaviour:
    if inspect.isasyncgenfunction(behaviour):
        return behaviour

    async def call(request, context):
        result = behaviour(request, context)
        if inspect.isawaitable(result):
            result = await result
        if hasattr(result, "__aiter__"):
            async for item in result:
                yield item
        elif result is not None:
            for item in result:
                yield item

    return call


def metadata_value(metadata, key: str) -> str | None:
    for entry_key, value in metadata or ():
        if entry_key == key:
            return value
    return None
