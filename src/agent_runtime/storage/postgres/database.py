"""The PostgreSQL database: an asyncpg pool, numbered migrations of its own
applied under an advisory lock, and the same calls as the SQLite database
(`transaction()`, `fetch_one`, `fetch_all`, `fetch_point`), so an adapter's
SQL is written once for both engines (`storage/postgres/dialect.py` turns
SQLite's `?` placeholders into PostgreSQL's `$n`).

Transactions run at READ COMMITTED: each statement sees what committed
before it started, so a writer that waited for a row lock (a session's or
task's sequence counter) reads the value its predecessor committed."""

from __future__ import annotations

import contextlib
import contextvars
import importlib.resources
import uuid
from typing import AsyncIterator, Awaitable, Callable

import asyncpg
import structlog

from agent_runtime.clock import iso, utc_now
from agent_runtime.errors import InvalidArgument
from agent_runtime.storage.postgres.dialect import to_postgres, translate
from agent_runtime.storage.errors import database_error
from agent_runtime.storage.migrations import migration_files

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = importlib.resources.files(__package__) / "migrations"
# pg_advisory_lock key of the migrations: every process that opens the
# database takes it, so concurrent starts apply each migration once.
MIGRATION_LOCK = 0x6167_656E_745F_6D69  # "agent_mi"
POOL_SIZE = 10
# A connection idle inside a transaction this long is ended by the server,
# and the row locks it took with it. Transactions here wait on nothing but
# the database (only storage/ opens them); a process stopped mid-transaction
# (SIGSTOP, a partition) would otherwise keep a task's row locked, and every
# claim skip that task, for as long as it stays stopped.
IDLE_IN_TRANSACTION_MS = 5000
# Every connection of this process names itself `agent-runtime:<origin>`:
# a notification says which process wrote (storage/postgres/notify.py),
# and pg_stat_activity shows whose connection is whose.
APPLICATION_PREFIX = "agent-runtime:"


def left_behind(column: str) -> str:
    """SQL that is true when `column` (the application name of the process
    that took on some work) is NULL, names this process, or names one with no
    connection left: work no other live process is doing."""
    return (
        f"({column} IS NULL OR {column} = current_setting('application_name')"
        f" OR NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = {column}))"
    )


@contextlib.contextmanager
def postgres_errors_as_database_error():
    try:
        yield
    except asyncpg.CharacterNotInRepertoireError as error:
        # PostgreSQL's text cannot hold NUL, which SQLite stores: refused as
        # the caller's mistake (a lookup by such a key would find nothing).
        raise InvalidArgument("text must not contain NUL (\\u0000) characters") from error
    except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as error:
        # InternalClientError: a connection the server closed while this
        # process was stopped (idle_in_transaction_session_timeout) can be
        # left mid-protocol; the next use of it fails so.
        raise database_error(error, "postgres") from error


class Result:
    """What SQLite's cursor gives the adapters: the rows a statement
    returned and how many rows it changed."""

    def __init__(self, rows: list[asyncpg.Record], rowcount: int):
        self._rows = rows
        self.rowcount = rowcount

    async def fetchall(self) -> list[asyncpg.Record]:
        return self._rows


def _returns_rows(sql: str) -> bool:
    head = sql.lstrip().split(None, 1)[0].upper()
    return head in ("SELECT", "WITH", "VALUES") or " RETURNING " in sql.upper()


class Transaction:
    """One connection inside BEGIN … COMMIT."""

    # A read's suffix that locks the rows it reads until the commit.
    ROW_LOCK = " FOR UPDATE"

    def __init__(self, connection: asyncpg.Connection):
        self.connection = connection

    async def execute(self, sql: str, parameters: tuple = ()) -> Result:
        statement, arguments = to_postgres(sql, parameters)
        if _returns_rows(statement):
            rows = await self.connection.fetch(statement, *arguments)
            return Result(rows, len(rows))
        status = await self.connection.execute(statement, *arguments)
        # "UPDATE 3", "DELETE 0", "INSERT 0 1": the count comes last.
        return Result([], int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0)

    async def executemany(self, sql: str, rows: list[tuple]) -> None:
        if rows:
            await self.connection.executemany(translate(sql), rows)

    async def fetch_one(self, sql: str, parameters: tuple = ()) -> asyncpg.Record | None:
        statement, arguments = to_postgres(sql, parameters)
        return await self.connection.fetchrow(statement, *arguments)


# The transaction this task is in, per database: a `transaction()` inside
# another joins it (see Database.transaction).
_current: contextvars.ContextVar[dict["Database", Transaction]] = contextvars.ContextVar("postgres_transaction")


class Database:
    def __init__(self, pool: asyncpg.Pool, dsn: str, origin: str):
        self.pool = pool
        self.dsn = dsn
        # This process's name in notifications (see APPLICATION_PREFIX).
        self.origin = origin
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """`closer` runs when the database closes, before the pool does
        (the notification relay and its connection)."""
        self._closers.append(closer)

    @classmethod
    async def open(cls, dsn: str, pool_size: int = POOL_SIZE) -> "Database":
        """Connects and migrates; closes the pool again if that fails."""
        origin = uuid.uuid4().hex[:12]
        with postgres_errors_as_database_error():
            pool = await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=pool_size,
                server_settings={
                    "application_name": APPLICATION_PREFIX + origin,
                    "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS),
                },
            )
        database = cls(pool, dsn, origin)
        try:
            await database.migrate()
            await database._check_collation()
        except BaseException:
            await pool.close()
            raise
        return database

    async def close(self) -> None:
        for closer in reversed(self._closers):
            await closer()
        self._closers.clear()
        await self.pool.close()

    async def _check_collation(self) -> None:
        # Lists are ordered by text (ids, ISO times); SQLite compares code
        # points, and so does PostgreSQL only with the C collation.
        collation = await self.pool.fetchval("SELECT datcollate FROM pg_database WHERE datname = current_database()")
        if collation not in ("C", "POSIX"):
            log.warning("storage.postgres_collation", collation=collation, advice="create the database with --locale=C")

    async def migrate(self) -> list[int]:
        """Applies pending migrations in version order, each in its own
        transaction, holding the migrations' advisory lock throughout:
        processes starting at once wait for each other, and each migration
        is applied exactly once. Returns the versions applied here."""
        done = []
        with postgres_errors_as_database_error():
            async with self.pool.acquire() as connection:
                await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
                try:
                    await connection.execute(
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)"
                    )
                    applied = {row["version"] for row in await connection.fetch("SELECT version FROM schema_migrations")}
                    for version, name, path in migration_files(MIGRATIONS_DIR):
                        if version in applied:
                            continue
                        async with connection.transaction():
                            await connection.execute(path.read_text())
                            await connection.execute(
                                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                                version,
                                name,
                                iso(utc_now()),
                            )
                        log.info("storage.migrated", version=version, name=name, engine="postgresql")
                        done.append(version)
                finally:
                    await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        return done

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """BEGIN … COMMIT on a pooled connection, rolled back on any error;
        PostgreSQL's failures come out as DatabaseError.

        Called inside another transaction of the same task, it joins that
        one: a PostgreSQL adapter locks the rows a shared (SQLite-written)
        method reads, then runs that method in the same transaction."""
        open_transactions = _current.get({})
        if self in open_transactions:
            yield open_transactions[self]
            return
        with postgres_errors_as_database_error():
            async with self.pool.acquire() as connection:
                async with connection.transaction():
                    transaction = Transaction(connection)
                    token = _current.set({**open_transactions, self: transaction})
                    try:
                        yield transaction
                    finally:
                        _current.reset(token)

    def _reader(self) -> asyncpg.Pool | asyncpg.Connection:
        """The pool; inside a transaction, its connection, so a read there
        sees what the transaction wrote."""
        transaction = _current.get({}).get(self)
        return transaction.connection if transaction is not None else self.pool

    async def fetch_one(self, sql: str, parameters: tuple = ()) -> asyncpg.Record | None:
        statement, arguments = to_postgres(sql, parameters)
        with postgres_errors_as_database_error():
            return await self._reader().fetchrow(statement, *arguments)

    # A point read is a pooled read here: there is no thread hop to save.
    fetch_point = fetch_one

    async def fetch_all(self, sql: str, parameters: tuple = ()) -> list[asyncpg.Record]:
        statement, arguments = to_postgres(sql, parameters)
        with postgres_errors_as_database_error():
            return await self._reader().fetch(statement, *arguments)

    async def ping(self) -> bool:
        try:
            await self.pool.fetchval("SELECT 1")
        except Exception:  # noqa: BLE001 - health reports any failure as down
            return False
        return True
