"""The SQLite database: one WAL-mode file, versioned migrations,
serialised write transactions on one connection and reads on their own
connections (in WAL mode readers never wait for a writer, so a write waiting
on another process's lock does not stall them).

Every write a response acknowledges is committed before the response. Writes
use BEGIN IMMEDIATE so that a second process writing the same file waits on
SQLite's lock instead of corrupting sequence numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import os
import pathlib
import sqlite3
import stat
from typing import AsyncIterator

import aiosqlite
import structlog

from agent_runtime.clock import iso, utc_now
from agent_runtime.storage.errors import database_error
from agent_runtime.storage.migrations import migration_files

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = importlib.resources.files(__package__) / "migrations"


@contextlib.contextmanager
def _sqlite_errors_as_database_error():
    try:
        yield
    except sqlite3.Error as error:
        raise database_error(error, "sqlite") from error


def private_files(path: pathlib.Path, *companions: pathlib.Path) -> None:
    """Creates `path` readable by the server's user only (SQLite gives its
    -wal and -shm files the database's mode), and takes group and other
    rights from an existing database and its companions."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, *companions):
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(file.stat().st_mode) & 0o077:
                log.warning("storage.mode_fixed", path=str(file))
                file.chmod(0o600)


# Read connections, each with its own thread: reads run beside the writer
# and beside each other.
READ_CONNECTIONS = 2
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # NORMAL in WAL mode survives a process crash (kill -9); FULL would
    # also survive power loss at a large cost per commit.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


async def _connect(path: pathlib.Path, pragmas: tuple[str, ...]) -> aiosqlite.Connection:
    connection = await aiosqlite.connect(path, isolation_level=None)
    try:
        connection.row_factory = aiosqlite.Row
        for pragma in pragmas:
            await connection.execute(pragma)
    except BaseException:
        # An unclosed connection's thread would keep the process alive.
        await connection.close()
        raise
    return connection


class Database:
    """A writer connection (writes go one at a time through `transaction()`),
    a few read connections that `fetch_one`/`fetch_all` take turns on, and a
    read-only connection on the event loop's thread for point reads
    (`fetch_point`)."""

    def __init__(
        self,
        connection: aiosqlite.Connection,
        readers: list[aiosqlite.Connection],
        point_reader: sqlite3.Connection | None = None,
    ):
        self.connection = connection
        self._point_reader = point_reader
        self._write_lock = asyncio.Lock()
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for reader in readers:
            self._readers.put_nowait(reader)
        self._all_readers = readers

    @classmethod
    async def open(cls, path: pathlib.Path) -> "Database":
        """Opens and migrates the database; closes what it opened if that
        fails (sqlite3.Error, or DatabaseError from a migration)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        private_files(path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
        writer = await _connect(path, _PRAGMAS)
        readers: list[aiosqlite.Connection] = []
        database = cls(writer, readers)
        try:
            await database.migrate()
            for _ in range(READ_CONNECTIONS):
                # query_only: a write sent here by mistake fails instead of
                # bypassing the write lock.
                readers.append(await _connect(path, (*_PRAGMAS[2:], "PRAGMA query_only=ON")))
                database._readers.put_nowait(readers[-1])
            # Opened after the migrations, so it never sees an older schema. No
            # busy wait on the loop's thread (timeout 0): see fetch_point.
            database._point_reader = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0, isolation_level=None
            )
            database._point_reader.row_factory = sqlite3.Row
        except BaseException:
            await database.close()
            raise
        return database

    async def close(self) -> None:
        async with self._write_lock:
            for reader in self._all_readers:
                await reader.close()
            if self._point_reader is not None:
                self._point_reader.close()
            await self.connection.close()

    @contextlib.asynccontextmanager
    async def _reader(self) -> AsyncIterator[aiosqlite.Connection]:
        reader = await self._readers.get()
        try:
            yield reader
        finally:
            self._readers.put_nowait(reader)

    async def migrate(self) -> list[int]:
        """Applies pending migrations in version order; returns those applied."""
        await self.connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        async with self.connection.execute("SELECT version FROM schema_migrations") as cursor:
            applied = {row[0] for row in await cursor.fetchall()}
        done = []
        for version, name, path in migration_files(MIGRATIONS_DIR):
            if version in applied:
                continue
            async with self.transaction() as connection:
                await connection.executescript_in_transaction(path.read_text())
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, iso(utc_now())),
                )
            log.info("storage.migrated", version=version, name=name)
            done.append(version)
        return done

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator["_Transaction"]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error; SQLite's own
        failures come out as DatabaseError."""
        async with self._write_lock:
            with _sqlite_errors_as_database_error():
                try:
                    await self.connection.execute("BEGIN IMMEDIATE")
                except asyncio.CancelledError:
                    # The BEGIN runs on the connection's thread all the same:
                    # end it before the lock passes to the next writer.
                    await self._rollback()
                    raise
            try:
                yield _Transaction(self.connection)
            except BaseException as error:
                await self._rollback()
                if isinstance(error, sqlite3.Error):
                    raise database_error(error, "sqlite") from error
                raise
            try:
                await self.connection.execute("COMMIT")
            except sqlite3.Error as error:
                await self._rollback()
                raise database_error(error, "sqlite") from error

    async def _rollback(self) -> None:
        try:
            await self.connection.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite already rolled back (e.g. after a failed COMMIT)

    # One trip to the connection's thread per read: execute + fetch + close
    # as separate awaits cost three (each a thread wake-up and a loop wake-up).
    async def fetch_one(self, sql: str, parameters: tuple = ()) -> aiosqlite.Row | None:
        rows = await self.fetch_all(sql, parameters)
        return rows[0] if rows else None

    async def fetch_point(self, sql: str, parameters: tuple = ()) -> sqlite3.Row | None:
        """One row found by its key, read on the event loop's thread: the
        trip to aiosqlite's thread (queue, thread wake-up, loop wake-up)
        costs several times such a read (bench/RESULTS.md). Only for reads
        of a row by key, which take microseconds. WAL readers do not wait
        for writers; when SQLite reports busy anyway (e.g. while a
        checkpoint's wal-index is rebuilt), the read goes through aiosqlite,
        which waits out busy_timeout off the loop."""
        if self._point_reader is not None:
            try:
                return self._point_reader.execute(sql, parameters).fetchone()
            except sqlite3.OperationalError:
                pass
        return await self.fetch_one(sql, parameters)

    async def fetch_all(self, sql: str, parameters: tuple = ()) -> list[aiosqlite.Row]:
        async with self._reader() as reader:
            with _sqlite_errors_as_database_error():
                return list(await reader.execute_fetchall(sql, parameters))

    async def ping(self) -> bool:
        try:
            await self.fetch_one("SELECT 1")
        except Exception:  # noqa: BLE001 - health reports any failure as down
            return False
        return True


class _Transaction:
    """The connection inside BEGIN IMMEDIATE … COMMIT."""

    # A read's suffix that locks the rows it reads until the commit: none
    # needed, BEGIN IMMEDIATE already keeps every other writer out.
    ROW_LOCK = ""

    def __init__(self, connection: aiosqlite.Connection):
        self._connection = connection

    async def execute(self, sql: str, parameters: tuple = ()) -> aiosqlite.Cursor:
        return await self._connection.execute(sql, parameters)

    async def executemany(self, sql: str, rows: list[tuple]) -> aiosqlite.Cursor:
        return await self._connection.executemany(sql, rows)

    async def fetch_one(self, sql: str, parameters: tuple = ()) -> aiosqlite.Row | None:
        rows = await self._connection.execute_fetchall(sql, parameters)
        return rows[0] if rows else None

    async def executescript_in_transaction(self, script: str) -> None:
        # executescript() would COMMIT first; run the statements one by one so
        # a failing migration rolls back whole.
        for statement in _split_sql(script):
            await self._connection.execute(statement)


def _split_sql(script: str) -> list[str]:
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        raise RuntimeError(f"incomplete SQL statement in migration: {current.strip()[:80]}")
    return statements
