"""Reads never wait for a write: while a write waits on another process's
lock (BEGIN IMMEDIATE held elsewhere), reads are answered. Shown by order,
not by time: the read completes while the write is still blocked."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from agent_runtime.storage.errors import DatabaseError
from agent_runtime.storage.sqlite.database import Database


async def test_a_read_completes_while_a_write_waits_on_another_connections_lock(tmp_path):
    path = tmp_path / "reads.sqlite3"
    database = await Database.open(path)
    try:
        async with database.transaction() as transaction:
            await transaction.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'x', 'now')")
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        try:

            async def write() -> None:
                async with database.transaction() as transaction:
                    await transaction.execute("DELETE FROM schema_migrations WHERE version = 999")

            writing = asyncio.create_task(write())
            # Let the write reach SQLite's lock before the read is asked.
            await asyncio.sleep(0.2)
            assert not writing.done()
            rows = await database.fetch_all("SELECT version FROM schema_migrations WHERE version = 999")
            assert [row[0] for row in rows] == [999]
            assert not writing.done(), "the read was answered only after the write gave up"
        finally:
            other.execute("ROLLBACK")
            other.close()
        await writing
        assert await database.fetch_one("SELECT version FROM schema_migrations WHERE version = 999") is None
    finally:
        await database.close()


async def test_the_read_connections_refuse_writes(tmp_path):
    """A write sent through a read by mistake fails instead of bypassing the
    write lock."""
    database = await Database.open(tmp_path / "reads.sqlite3")
    try:
        with pytest.raises(DatabaseError, match="readonly"):
            await database.fetch_all("DELETE FROM schema_migrations")
        assert (await database.fetch_one("SELECT count(*) FROM schema_migrations"))[0] > 0
    finally:
        await database.close()


async def test_a_writer_cancelled_while_it_begins_leaves_no_transaction_open(tmp_path):
    """A run or loop cancelled at its transaction's BEGIN (a shutdown, a
    lost lease): the BEGIN still runs on the connection's thread, and the
    next writer must not find the connection inside that transaction."""
    database = await Database.open(tmp_path / "cancel.sqlite3")
    try:
        for _ in range(20):

            async def write() -> None:
                async with database.transaction() as transaction:
                    await transaction.execute("SELECT 1")

            writing = asyncio.create_task(write())
            await asyncio.sleep(0)  # its BEGIN is on its way to the connection's thread
            writing.cancel()
            await asyncio.gather(writing, return_exceptions=True)
            async with database.transaction() as transaction:
                await transaction.execute("SELECT 1")
    finally:
        await database.close()
