"""Server interceptors. One grpc.aio ServerInterceptor (`call.CallInterceptor`)
does everything the server does around a call; the modules beside it hold
each concern's logic: request ids and the access log (request_context),
credentials and rate limits (auth), input rules (validation) and the error
model (errors)."""

from __future__ import annotations

import contextvars

# Headers every response of the current call carries (the rate-limit
# headers): sent as initial metadata on success, added to the trailers of a
# trailers-only error response by the error model.
response_headers: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "response_headers", default=()
)


def metadata_value(metadata, key: str) -> str | None:
    for entry_key, value in metadata or ():
        if entry_key == key:
            return value
    return None
