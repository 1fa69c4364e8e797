"""The one server interceptor. Around every call, outermost first: bind the
request id and write the access log line; map any failure to the error
model; admit the caller (credentials, rate limit); check that the request
parsed and its field rules; run the handler; send the rate-limit headers.

One wrapper per method, built on its first call and reused: four stacked
interceptors cost a coroutine, a handler copy and a closure each per call,
which measured ~7% of a GetSession (bench/RESULTS.md)."""

from __future__ import annotations

import contextlib
import inspect
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import grpc
from google.protobuf.message import DecodeError, Message

from agent_runtime.errors import InvalidArgument
from agent_runtime.interceptors.auth import Admission, current_principal, send_response_headers
from agent_runtime.interceptors.draining import Draining, ServerStopping, until_draining
from agent_runtime.interceptors.errors import abort_with_error_model, is_abort
from agent_runtime.interceptors.request_context import begin_call, end_call
from agent_runtime.interceptors.validation import validate

UnaryBehaviour = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamBehaviour = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


class CallInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, admission: Admission, draining: Draining | None = None):
        self._admission = admission
        # When set, server streams end resumably (draining.py) and new
        # calls are refused: the server is stopping.
        self._draining = draining or Draining()
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        wrapped = self._handlers.get(method)
        if wrapped is None:
            handler = await continuation(handler_call_details)
            if handler is None:
                return None
            wrapped = self._handlers[method] = self._wrap(handler, method)
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        handler = handler._replace(request_deserializer=_tolerant(handler.request_deserializer))
        if handler.unary_unary:
            return handler._replace(unary_unary=self._unary(_as_coroutine(handler.unary_unary), method))
        if handler.stream_unary:
            return handler._replace(stream_unary=self._unary(_as_coroutine(handler.stream_unary), method))
        if handler.unary_stream:
            return handler._replace(unary_stream=self._stream(self._until_draining(handler.unary_stream), method))
        return handler._replace(stream_stream=self._stream(_as_async_iter(handler.stream_stream), method))

    @contextlib.asynccontextmanager
    async def _scope(self, context, method: str):
        """Everything around the handler but the field rules (which need the
        request) and the response headers (which need its success)."""
        metadata = context.invocation_metadata()
        request_id, peer = begin_call(context, method, metadata)
        started = time.perf_counter()
        error = None
        try:
            try:
                if self._draining.stopping:
                    raise ServerStopping()
                current_principal.set(await self._admission.admit(method, metadata, peer))
                yield
            except Exception as failure:
                if is_abort(failure):
                    raise
                await abort_with_error_model(context, failure)
        except BaseException as caught:
            error = caught
            raise
        finally:
            end_call(context, method, request_id, peer, started, error)

    def _unary(self, behaviour: UnaryBehaviour, method: str) -> UnaryBehaviour:
        async def call(request, context):
            async with self._scope(context, method):
                response = await behaviour(_checked(request), context)
                # Only on success: an error stays a trailers-only response,
                # whose trailers Envoy's Lua filter reads as headers.
                await send_response_headers(context)
                return response

        return call

    def _stream(self, behaviour: StreamBehaviour, method: str) -> StreamBehaviour:
        async def call(request, context):
            async with self._scope(context, method):
                sent = False
                async for response in behaviour(_checked(request), context):
                    if not sent:
                        await send_response_headers(context)
                        sent = True
                    yield response
                if not sent:
                    await send_response_headers(context)

        return call

    def _until_draining(self, behaviour) -> StreamBehaviour:
        """A server stream that ends resumably when the server stops (the
        long-lived ones: feeds, run streams); client and bidi streams end
        with the gRPC server's grace period."""
        responses = _as_async_iter(behaviour)

        def call(request, context):
            return until_draining(responses(request, context), self._draining)

        return call


class _Malformed:
    """A request message that did not parse. grpc.aio parses before the
    handler runs and answers a parse error itself (UNKNOWN, with Python class
    names); handed on as this, it is answered by the error model instead,
    after the caller was admitted."""

    __slots__ = ("error",)

    def __init__(self, error: DecodeError):
        self.error = error

    def refusal(self) -> InvalidArgument:
        # Also what REST clients see when the transcoder encoded their JSON
        # into a message the server cannot parse (an object as a
        # map<string,string> value).
        return InvalidArgument(
            f"The request does not match the fields of this method ({self.error}): "
            "check the field types, nested values included"
        )


def _tolerant(deserializer):
    if deserializer is None:
        return None

    def deserialize(data: bytes):
        try:
            return deserializer(data)
        except DecodeError as error:
            return _Malformed(error)

    return deserialize


def _checked(request):
    """The request, refused if it did not parse or breaks its field rules;
    each message of a request stream is refused as it is read if it did not
    parse."""
    if isinstance(request, _Malformed):
        raise request.refusal()
    if isinstance(request, Message):
        validate(request)
    elif hasattr(request, "__aiter__"):
        return _parsed_stream(request)
    return request


async def _parsed_stream(requests):
    async for request in requests:
        if isinstance(request, _Malformed):
            raise request.refusal()
        yield request


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
