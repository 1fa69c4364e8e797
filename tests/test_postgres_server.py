"""The tests' own PostgreSQL server (tests/postgres_helpers.py): it serves on
loopback, and leaves no process and no files behind once stopped."""

from __future__ import annotations

import pathlib

import asyncpg
import pytest

from postgres_helpers import postgres_bin_dir, postgres_server
from process_helpers import children, host_processes

pytestmark = pytest.mark.skipif(postgres_bin_dir() is None, reason="PostgreSQL is not installed (scripts/ensure-postgres)")


async def test_a_started_server_answers_and_a_stopped_one_leaves_nothing():
    with postgres_server() as server:
        connection = await asyncpg.connect(server.dsn)
        try:
            assert await connection.fetchval("SELECT current_setting('listen_addresses')") == "127.0.0.1"
            assert await connection.fetchval("SELECT current_user") == "postgres"
        finally:
            await connection.close()
        # The postmaster's command line names the cluster's directory; its
        # backends and workers are found by their parent.
        postmaster = server.process.pid
        assert postmaster in host_processes(str(server.directory))
        workers = children(postmaster)
        assert workers
        directory = server.directory
    assert host_processes(str(directory)) == []
    assert not any(pathlib.Path(f"/proc/{pid}").exists() for pid in workers)
    assert not directory.exists()



async def test_each_test_database_starts_empty(postgres_dsn):
    connection = await asyncpg.connect(postgres_dsn)
    try:
        tables = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await connection.close()
    assert tables == []
