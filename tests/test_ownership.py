"""A user sees and changes only their own sessions; administrator
credentials see all (identity/ownership.py). The rules on the bare gRPC
server, every session RPC with another user's session; what Envoy and the
bridge add (the REST 404 body, the /ws feed, the mini-devin project
sessions and /ws/tasks) is test_ownership_rest.py."""

from __future__ import annotations

import uuid

import grpc
import pytest
import pytest_asyncio

from agentruntime.v1 import session_pb2, session_pb2_grpc
from agent_runtime.errors import NotFound, PermissionDenied
from agent_runtime.identity.ownership import check_visible, new_owner, owner_scope, require_admin, visible
from agent_runtime.interceptors.auth import ANONYMOUS, Principal
from conftest import TEST_API_KEY, running_without_envoy
from grpc_errors import refusal, stream_refusal
from identity_helpers import TEST_INTERNAL_TOKEN, bearer, grpc_issue_key, grpc_new_user, identity_settings

ADMIN = (("x-api-key", TEST_API_KEY),)
SESSION_NOT_FOUND = (grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND")


def new_id(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


@pytest_asyncio.fixture(scope="module")
async def channel(tmp_path_factory):
    async with running_without_envoy(identity_settings(tmp_path_factory.mktemp("owners"))) as (_, opened):
        yield opened


@pytest_asyncio.fixture(scope="module")
async def stub(channel):
    return session_pb2_grpc.SessionServiceStub(channel)


@pytest_asyncio.fixture(scope="module")
async def users(channel, stub):
    """Alice (JWT), Bob (JWT) and Bob's md_ key, each with one session."""
    _, alice = await grpc_new_user(channel, "alice")
    _, bob = await grpc_new_user(channel, "bob")
    bob_key = (await grpc_issue_key(channel, bearer(bob))).key
    sessions = {}
    for name, token in (("alice", alice), ("bob", bob)):
        metadata = tuple(bearer(token).items())
        session_id = new_id(name)
        await stub.CreateSession(session_pb2.CreateSessionRequest(session_id=session_id), metadata=metadata)
        event = session_pb2.CreateEventRequest(session_id=session_id, event=session_pb2.Event(event_type="pre_tool"))
        await stub.CreateEvent(event, metadata=metadata)
        sessions[name] = session_id
    return {
        "alice": tuple(bearer(alice).items()),
        "bob": tuple(bearer(bob).items()),
        "bob_key": (("x-api-key", bob_key),),
        "alice_session": sessions["alice"],
        "bob_session": sessions["bob"],
    }


async def test_user_a_gets_not_found_for_user_b_session(stub, users):
    bob_session, alice = users["bob_session"], users["alice"]
    for call in (
        stub.GetSession(session_pb2.GetSessionRequest(session_id=bob_session), metadata=alice),
        stub.GetSessionResult(session_pb2.GetSessionResultRequest(session_id=bob_session), metadata=alice),
        stub.ListEvents(session_pb2.ListEventsRequest(session_id=bob_session), metadata=alice),
        stub.UpdateSessionMetadata(
            session_pb2.UpdateSessionMetadataRequest(session_id=bob_session, session_name="stolen"), metadata=alice
        ),
        stub.CreateEvent(
            session_pb2.CreateEventRequest(session_id=bob_session, event=session_pb2.Event(event_type="pre_tool")), metadata=alice
        ),
        stub.IngestEvent(
            session_pb2.IngestEventRequest(event=session_pb2.Event(event_type="session_start", session_id=bob_session)), metadata=alice
        ),
        stub.DeleteSession(session_pb2.DeleteSessionRequest(session_id=bob_session), metadata=alice),
    ):
        assert await refusal(call) == SESSION_NOT_FOUND
    feed = stub.WatchSessions(session_pb2.WatchSessionsRequest(session_id=bob_session), metadata=alice)
    assert await stream_refusal(feed) == SESSION_NOT_FOUND
    status = await stub.GetSessionStatus(session_pb2.GetSessionStatusRequest(session_id=bob_session), metadata=alice)
    assert status.status == "not_existent"
    listed = await stub.ListSessions(session_pb2.ListSessionsRequest(), metadata=alice)
    assert [s.session_id for s in listed.sessions] == [users["alice_session"]]
    # Nothing changed for Bob, with his JWT or his key.
    for bob in (users["bob"], users["bob_key"]):
        mine = (await stub.GetSession(session_pb2.GetSessionRequest(session_id=bob_session), metadata=bob)).session
        assert mine.event_count == 1 and mine.session_name == bob_session


async def test_administrators_see_and_change_every_session(stub, users):
    for admin in (ADMIN, (("x-internal-auth", TEST_INTERNAL_TOKEN),)):
        listed = await stub.ListSessions(session_pb2.ListSessionsRequest(), metadata=admin)
        assert {users["alice_session"], users["bob_session"]} <= {s.session_id for s in listed.sessions}
        bobs = await stub.GetSession(session_pb2.GetSessionRequest(session_id=users["bob_session"]), metadata=admin)
        assert bobs.session.session_id == users["bob_session"]
    admin_session = new_id("admin")
    await stub.CreateSession(session_pb2.CreateSessionRequest(session_id=admin_session), metadata=ADMIN)
    assert await refusal(stub.GetSession(session_pb2.GetSessionRequest(session_id=admin_session), metadata=users["alice"])) == SESSION_NOT_FOUND


async def test_ingest_creates_owned_sessions(stub, users):
    session_id = new_id("ingest")
    start = session_pb2.Event(event_type="session_start", session_id=session_id)
    await stub.IngestEvent(session_pb2.IngestEventRequest(event=start), metadata=users["alice"])
    mine = await stub.GetSession(session_pb2.GetSessionRequest(session_id=session_id), metadata=users["alice"])
    assert mine.session.session_id == session_id
    assert await refusal(stub.GetSession(session_pb2.GetSessionRequest(session_id=session_id), metadata=users["bob"])) == SESSION_NOT_FOUND


def test_ownership_helpers():
    alice = Principal(kind="jwt", subject="a", user_id="a")
    admin = Principal(kind="api_key", subject="configured-key", admin=True)
    assert new_owner(alice) == "a" and new_owner(admin) is None
    assert owner_scope(alice) == "a" and owner_scope(admin) is None
    assert visible("a", owner_scope(alice)) and not visible("b", owner_scope(alice)) and not visible(None, "a")
    assert visible("b", owner_scope(admin)) and visible(None, owner_scope(admin))
    assert not visible(None, owner_scope(ANONYMOUS)) and not visible("a", owner_scope(ANONYMOUS))
    with pytest.raises(NotFound):
        check_visible("b", "a", NotFound("Task t not found"))
    check_visible("a", "a", NotFound("unused"))
    with pytest.raises(PermissionDenied) as denied:
        require_admin("Deleting users", alice)
    assert denied.value.http_status == 403 and denied.value.code == "FORBIDDEN"
    require_admin("Deleting users", admin)


async def test_migration_gives_key_made_tasks_to_the_keys_user(tmp_path):
    """Before 0009 a task made with a user's md_ key was owned by the key's
    id; the migration hands it (and its approvals) to the user."""
    from agent_runtime.storage.sqlite.database import Database

    database = await Database.open(tmp_path / "old.sqlite3")
    try:
        now = "2026-12-01T00:00:00Z"
        async with database.transaction() as tx:
            await tx.execute("INSERT INTO users VALUES ('u1', 'b@x.org', 'Bob', 'bob', 'hash', ?)", (now,))
            await tx.execute(
                "INSERT INTO api_keys (key_id, user_id, name, key_hash, prefix, created_at) VALUES ('k1', 'u1', 'ci', 'h', 'md_', ?)", (now,)
            )
            await tx.execute("INSERT INTO sessions (session_id, session_name, status, created_at, updated_at) VALUES ('s1', 's1', 'running', ?, ?)", (now, now))
            for task_id, owner in (("by-key", "k1"), ("by-admin", "api_key")):
                await tx.execute(
                    "INSERT INTO agent_tasks (task_id, session_id, owner, description, working_directory, status, max_iterations, created_at, updated_at)"
                    " VALUES (?, 's1', ?, 'd', '/tmp', 'completed', 5, ?, ?)",
                    (task_id, owner, now, now),
                )
            await tx.execute(
                "INSERT INTO tool_approvals (approval_id, task_id, owner, call_id, tool_name, arguments, reason, status, created_at)"
                " VALUES ('a1', 'by-key', 'k1', 'c1', 'write_file', '{}', 'r', 'approved', ?)",
                (now,),
            )
            await tx.execute("DELETE FROM schema_migrations WHERE version = 9")
        assert await database.migrate() == [9]
        owners = await database.fetch_all("SELECT task_id, owner FROM agent_tasks ORDER BY task_id")
        assert [tuple(row) for row in owners] == [("by-admin", "api_key"), ("by-key", "u1")]
        assert (await database.fetch_one("SELECT owner FROM tool_approvals"))["owner"] == "u1"
    finally:
        await database.close()
