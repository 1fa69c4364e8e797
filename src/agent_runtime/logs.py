"""structlog setup: JSON lines on stderr when it is not a TTY, console lines
when it is. Our own loggers render straight to stderr; stdlib records (grpc,
aiosqlite) go through the same processors via logging's ProcessorFormatter.

Our loggers skip the stdlib path because the access log writes a line per
call: through logging (LogRecord, handler, formatter) a line cost ~70 us,
a measurable share of a ~1 ms GetSession (bench/RESULTS.md). For the same
reason the access log's JSON line is rendered by one format string
(`access_line`) rather than structlog's processor chain: same fields, same
JSON, a fraction of the CPU."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import threading
from typing import Callable

import structlog

ACCESS_LOGGER = "agent_runtime.access"

_SHARED_PROCESSORS: list = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class _StderrLogger:
    """A named line writer. Reads sys.stderr at each write, so a redirected
    stderr (pytest's capture, a daemon's log file) is honoured."""

    _lock = threading.Lock()

    def __init__(self, name: str = ""):
        self.name = name

    def msg(self, message: str) -> None:
        with self._lock:
            stream = sys.stderr
            stream.write(message + "\n")
            stream.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _logger_factory(*args) -> _StderrLogger:
    return _StderrLogger(args[0] if args else "")


AccessLine = Callable[[str, str, str, float, str], None]


def _access_line_by_structlog(request_id: str, rpc: str, code: str, duration_ms: float, peer: str) -> None:
    # request_id and rpc are bound to the call's context (request_context.py).
    structlog.get_logger(ACCESS_LOGGER).info("rpc.done", code=code, duration_ms=duration_ms, peer=peer)


def _quiet(request_id: str, rpc: str, code: str, duration_ms: float, peer: str) -> None:
    """LOG_LEVEL above INFO: no access lines."""


_access_sink = _StderrLogger(ACCESS_LOGGER)
_quote = json.encoder.encode_basestring_ascii
# What structlog's JSON chain renders for the line: the same keys, values
# and layout (structlog orders the two context keys as they hash).
_ACCESS_JSON = (
    '{"code": "%s", "duration_ms": %r, "peer": %s, "event": "rpc.done", "request_id": %s, "rpc": %s, '
    '"level": "info", "logger": "' + ACCESS_LOGGER + '", "timestamp": %s}'
)


def _access_line_as_json(request_id: str, rpc: str, code: str, duration_ms: float, peer: str) -> None:
    stamp = dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    _access_sink.msg(_ACCESS_JSON % (code, duration_ms, _quote(peer), _quote(request_id), _quote(rpc), _quote(stamp)))


# How the access line is written; configure_logging picks the fast JSON
# renderer when the other lines are JSON too.
_access_line: AccessLine = _access_line_by_structlog


def access_line(request_id: str, rpc: str, code: str, duration_ms: float, peer: str) -> None:
    """Writes the access log's `rpc.done` line of one call."""
    _access_line(request_id, rpc, code, duration_ms, peer)


def configure_logging(level_name: str = "INFO") -> None:
    global _access_line
    console = sys.stderr.isatty()
    renderer = structlog.dev.ConsoleRenderer() if console else structlog.processors.JSONRenderer()
    level = logging.getLevelName(level_name)
    if level > logging.INFO:
        _access_line = _quiet
    else:
        _access_line = _access_line_by_structlog if console else _access_line_as_json
    structlog.configure(
        processors=[
            *_SHARED_PROCESSORS,
            structlog.processors.format_exc_info,
            renderer,
        ],
        logger_factory=_logger_factory,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED_PROCESSORS,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiosqlite").setLevel(logging.INFO if level == logging.DEBUG else max(level, logging.WARNING))
