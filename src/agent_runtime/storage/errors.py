"""How a failing database reaches callers, on either engine."""

from __future__ import annotations

import structlog

from agent_runtime.errors import DomainError

log = structlog.get_logger(__name__)


class DatabaseError(DomainError):
    """The database failed (SQLite locked past busy_timeout, read-only, disk
    full or I/O error; PostgreSQL unreachable or refusing): HTTP 500 with
    code DATABASE_ERROR instead of an anonymous internal error."""

    code = "DATABASE_ERROR"


def database_error(error: Exception, engine: str) -> DatabaseError:
    log.error(f"storage.{engine}_error", error=str(error), kind=type(error).__name__)
    return DatabaseError(f"Database error: {error}; the request was not applied, retry it later")
