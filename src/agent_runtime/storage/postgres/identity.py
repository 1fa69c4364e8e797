"""Users and API keys on PostgreSQL (the SQLite adapter's SQL as it is),
and what every server process on the database shares (migration 0012): the
JWT signing key and the rate limits' windows."""

from __future__ import annotations

import secrets

import structlog

from agent_runtime.clock import iso, utc_now
from agent_runtime.identity.models import RateWindow
from agent_runtime.storage.postgres.database import Database, postgres_errors_as_database_error
from agent_runtime.storage.sqlite.identity import SqliteIdentityRepository

log = structlog.get_logger(__name__)

# Windows long over are deleted after this many counts of a process.
SWEEP_EVERY = 1000


class PostgresIdentityRepository(SqliteIdentityRepository):
    pass


class PostgresSigningKeys:
    """The key in the one row of signing_keys. The primary key decides
    between processes starting at once: the others' inserts wait for the
    first one's commit and do nothing, then they read its key."""

    def __init__(self, database: Database):
        self._db = database

    async def signing_key(self) -> bytes:
        async with self._db.transaction() as tx:
            created = await tx.execute(
                "INSERT INTO signing_keys (id, key, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING",
                (secrets.token_hex(32), iso(utc_now())),
            )
            row = await tx.fetch_one("SELECT key FROM signing_keys WHERE id = 1")
        if created.rowcount:
            log.info("identity.signing_key_created", engine="postgresql")
        return row["key"].encode()


# One statement: a new window when the bucket has none or its window is
# over, else one more request in it; the database's clock for every process.
# The clock is read when the row is written (clock_timestamp(), once for both
# columns), not at the statement's start (now()): a count that waited for
# another process's lock on the row would otherwise compare with, and report,
# a time before the window that process began.
_COUNT = """
INSERT INTO rate_limit_windows AS w (bucket, window_start, requests)
VALUES ($1, extract(epoch FROM clock_timestamp())::float8, 1)
ON CONFLICT (bucket) DO UPDATE SET (window_start, requests) = (
    SELECT CASE WHEN w.window_start + $2 <= clock.now THEN clock.now ELSE w.window_start END,
           CASE WHEN w.window_start + $2 <= clock.now THEN 1 ELSE w.requests + 1 END
    FROM (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) AS clock
)
RETURNING window_start, requests, extract(epoch FROM clock_timestamp())::float8 AS now
"""
_READ = """
SELECT window_start, requests, extract(epoch FROM now())::float8 AS now
FROM rate_limit_windows WHERE bucket = $1
"""
_SWEEP = "DELETE FROM rate_limit_windows WHERE window_start + $1 <= extract(epoch FROM now())::float8"


class PostgresRateWindows:
    """Fixed windows in rate_limit_windows: one UPSERT … RETURNING per
    counted request, shared by every process on the database."""

    def __init__(self, database: Database):
        self._db = database
        self._counted = 0

    async def count(self, bucket: str, window_seconds: float, *, count: bool = True) -> RateWindow:
        with postgres_errors_as_database_error():
            if not count:
                row = await self._db.pool.fetchrow(_READ, bucket)
                if row is None or row["window_start"] + window_seconds <= row["now"]:
                    now = row["now"] if row is not None else await self._db.pool.fetchval("SELECT extract(epoch FROM now())::float8")
                    return RateWindow(started_at=now, requests=0, now=now)
                return RateWindow(started_at=row["window_start"], requests=row["requests"], now=row["now"])
            row = await self._db.pool.fetchrow(_COUNT, bucket, window_seconds)
            self._counted += 1
            if self._counted % SWEEP_EVERY == 0:
                await self._db.pool.execute(_SWEEP, window_seconds)
        return RateWindow(started_at=row["window_start"], requests=row["requests"], now=row["now"])
