"""structlog setup: JSON lines on stderr when it is not a TTY, console lines
when it is. Our own loggers render straight to stderr; stdlib records (grpc,
aiosqlite) go through the same processors via logging's ProcessorFormatter.

Our loggers skip the stdlib path because the access log writes a line per
call: through logging (LogRecord, handler, formatter) a line cost ~70 us,
a measurable share of a ~1 ms GetSession (bench/RESULTS.md)."""

from __future__ import annotations

import logging
import sys
import threading

import structlog

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


def configure_logging(level_name: str = "INFO") -> None:
    renderer = (
        structlog.dev.ConsoleRenderer()
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    level = logging.getLevelName(level_name)
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
