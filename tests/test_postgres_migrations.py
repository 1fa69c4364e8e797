"""PostgreSQL's migrations: applied once however many processes start at
once, and in step with SQLite's (the same versions and names, the same
tables and columns, read from each engine's catalog)."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg

from agent_runtime.storage.migrations import migration_files
from agent_runtime.storage.postgres import database as postgres
from agent_runtime.storage.sqlite import database as sqlite

# What one engine needs and the other has built in: SQLite keeps
# AUTOINCREMENT counters in sqlite_sequence and orders rows by rowid;
# PostgreSQL keeps the feed's counter in a row of its own
# (0001_sessions.sql says why) and ml_files' upload order in a column.
# What PostgreSQL's processes share (0012_shared_state.sql), SQLite's one
# process keeps in the data dir's key file and in memory.
SQLITE_ONLY = {("sqlite_sequence", None)}
POSTGRES_ONLY = {
    ("event_feed_counter", None),
    ("ml_files", "insert_order"),
    ("signing_keys", None),
    ("rate_limit_windows", None),
}


def _strip(columns: set[tuple[str, str]], only: set[tuple[str, str | None]]) -> set[tuple[str, str]]:
    tables = {table for table, column in only if column is None}
    return {(t, c) for t, c in columns if t not in tables and (t, c) not in only}


async def test_both_engines_have_the_same_migrations_tables_and_columns(postgres_dsn, tmp_path):
    assert [(v, n) for v, n, _ in migration_files(postgres.MIGRATIONS_DIR)] == [(v, n) for v, n, _ in migration_files(sqlite.MIGRATIONS_DIR)]

    database = await sqlite.Database.open(tmp_path / "runtime.db")
    await database.close()
    with sqlite3.connect(tmp_path / "runtime.db") as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        sqlite_columns = {
            (table, row[1]) for table in tables for row in connection.execute(f"PRAGMA table_info({table})")
        }
        sqlite_tables = set(tables)

    database = await postgres.Database.open(postgres_dsn)
    try:
        rows = await database.fetch_all(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        )
    finally:
        await database.close()
    postgres_columns = {(row["table_name"], row["column_name"]) for row in rows}
    postgres_tables = {table for table, _ in postgres_columns}

    assert postgres_tables - {t for t, _ in POSTGRES_ONLY if _ is None} == sqlite_tables - {"sqlite_sequence"}
    assert _strip(postgres_columns, POSTGRES_ONLY) == _strip(sqlite_columns, SQLITE_ONLY)


async def test_processes_starting_at_once_apply_each_migration_once(postgres_dsn):
    versions = [version for version, _, _ in migration_files(postgres.MIGRATIONS_DIR)]
    pools = [await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=1) for _ in range(5)]
    try:
        databases = [postgres.Database(pool, postgres_dsn, origin=str(n)) for n, pool in enumerate(pools)]
        applied = await asyncio.gather(*(database.migrate() for database in databases))
        recorded = await databases[0].fetch_all("SELECT version FROM schema_migrations ORDER BY version")
        # Opening again finds nothing left to do.
        assert await databases[0].migrate() == []
    finally:
        await asyncio.gather(*(pool.close() for pool in pools))
    assert sorted(version for each in applied for version in each) == versions
    assert [row["version"] for row in recorded] == versions
