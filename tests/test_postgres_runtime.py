"""DATABASE_URL=postgresql://… runs the whole server on PostgreSQL: every
port gets the PostgreSQL adapter, two servers on one database see each
other's writes and events, and a database that cannot be reached is a
one-line start-up error that keeps the password to itself."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from agent_runtime.sessions.models import NewEvent
from agent_runtime.storage.postgres.database import Database as PostgresDatabase
from conftest import make_settings, running

pytestmark = pytest.mark.slow


async def test_two_servers_on_one_database_share_sessions_and_live_events(postgres_dsn, tmp_path):
    first_settings = make_settings(tmp_path / "first", server={"run_envoy": False}, database_url=postgres_dsn)
    second_settings = make_settings(tmp_path / "second", server={"run_envoy": False}, database_url=postgres_dsn)
    async with running(first_settings) as first, running(second_settings) as second:
        assert isinstance(first.database, PostgresDatabase)
        await first.sessions.create_session("shared", "Shared")
        assert (await second.sessions.get_session("shared")).session_name == "Shared"
        watch = second.sessions.watch("shared", after_sequence=0)
        assert (await anext(watch)).kind == "init"
        await first.sessions.append_event("shared", NewEvent(event_type="note", timestamp="", body={"n": 1}))
        await second.sessions.append_event("shared", NewEvent(event_type="note", timestamp="", body={"n": 2}))
        items = [await asyncio.wait_for(anext(watch), 10) for _ in range(2)]
        await watch.aclose()
    assert [(item.event.sequence, item.event.body["n"]) for item in items] == [(1, 1), (2, 2)]


def test_an_unreachable_database_is_a_one_line_error_without_the_password(tmp_path):
    url = "postgresql://runtime:hunter2secret@127.0.0.1:1/agent_runtime"
    result = subprocess.run(
        [sys.executable, "-m", "agent_runtime", "serve", "--data-dir", str(tmp_path), "--no-envoy", "--grpc-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATABASE_URL": url},
    )
    assert result.returncode != 0
    [line] = [line for line in result.stderr.splitlines() if line.startswith("agent-runtime: error:")]
    assert line.startswith("agent-runtime: error: database postgresql://runtime:***@127.0.0.1:1/agent_runtime: "), line
    assert "hunter2secret" not in result.stderr + result.stdout
