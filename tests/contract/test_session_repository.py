"""Contract of the session domain's port (sessions/ports.py)."""

from __future__ import annotations

import asyncio

from agent_runtime.sessions.models import NewEvent, PendingAppend, SessionRecord

T0 = "2026-01-01T00:00:00.000Z"
T1 = "2026-01-01T00:00:01.000Z"
T2 = "2026-01-01T00:00:02.000Z"


def session(session_id: str, created_at: str = T0, owner: str | None = None, **fields) -> SessionRecord:
    return SessionRecord(
        session_id=session_id,
        session_name=fields.pop("session_name", f"name of {session_id}"),
        status="running",
        created_at=created_at,
        updated_at=created_at,
        owner_id=owner,
        **fields,
    )


def append(session_id: str, event_type: str = "pre_tool", timestamp: str = T1, **options) -> PendingAppend:
    body = options.pop("body", {})
    return PendingAppend(session_id, NewEvent(event_type=event_type, timestamp=timestamp, body=body), **options)


async def test_a_created_session_reads_back_and_its_id_is_taken_once(stores):
    first = session("s1", project_dir="/work", agent_name="coder", parent_session_name="parent", owner="alice")
    assert await stores.sessions.create_session(first) is True
    assert await stores.sessions.create_session(session("s1", session_name="again")) is False
    assert await stores.sessions.get_session("s1") == first
    assert await stores.sessions.get_session("missing") is None


async def test_sessions_list_newest_first_by_owner_and_page(stores):
    for index, owner in enumerate(["alice", "bob", "alice", None]):
        await stores.sessions.create_session(session(f"s{index}", f"2026-01-01T00:00:0{index}.000Z", owner))
    listed = await stores.sessions.list_sessions(0, 0)
    assert [s.session_id for s in listed] == ["s3", "s2", "s1", "s0"]
    assert [s.session_id for s in await stores.sessions.list_sessions(0, 0, "alice")] == ["s2", "s0"]
    assert [s.session_id for s in await stores.sessions.list_sessions(2, 1)] == ["s2", "s1"]
    assert [s.session_id for s in await stores.sessions.list_sessions(0, 3)] == ["s0"]
    assert await stores.sessions.list_sessions(0, 0, "carol") == []


async def test_update_changes_the_given_fields_and_updated_at(stores):
    await stores.sessions.create_session(session("s1", agent_name="coder"))
    updated = await stores.sessions.update_session("s1", {"session_name": "renamed", "project_dir": "/p"}, T2)
    assert (updated.session_name, updated.project_dir, updated.agent_name) == ("renamed", "/p", "coder")
    assert updated.updated_at == T2 and updated.created_at == T0
    assert await stores.sessions.get_session("s1") == updated
    assert await stores.sessions.update_session("missing", {"session_name": "x"}, T2) is None


async def test_delete_removes_the_session_and_its_events(stores):
    await stores.sessions.create_session(session("s1"))
    await stores.sessions.create_session(session("s2"))
    await stores.sessions.append_events([append("s1"), append("s1"), append("s2")], T1)
    assert await stores.sessions.delete_session("s1") == 2
    assert await stores.sessions.get_session("s1") is None
    assert await stores.sessions.list_events("s1", 0, 0) == []
    assert [e.session_id for e in await stores.sessions.list_feed(0, 0)] == ["s2"]
    assert await stores.sessions.delete_session("s1") is None


async def test_appends_number_events_per_session_and_in_one_feed(stores):
    await stores.sessions.create_session(session("a"))
    await stores.sessions.create_session(session("b", session_name="bee"))
    outcomes = await stores.sessions.append_events(
        [append("a", body={"tool_name": "ls"}), append("b"), append("a", timestamp=T2)], T2
    )
    assert [(o.event.session_id, o.event.sequence) for o in outcomes] == [("a", 1), ("b", 1), ("a", 2)]
    feed = [o.event.feed_sequence for o in outcomes]
    assert feed == sorted(feed) and len(set(feed)) == 3
    assert len({o.event.event_id for o in outcomes}) == 3
    first = outcomes[0].event
    assert (first.event_type, first.timestamp, first.body, first.session_name) == ("pre_tool", T1, {"tool_name": "ls"}, "name of a")
    assert outcomes[1].event.session_name == "bee"
    # Neither created nor changed: nothing for the feed to announce.
    assert all(o.session is None and not o.session_created and not o.session_changed for o in outcomes)
    stored = await stores.sessions.get_session("a")
    assert (stored.event_count, stored.last_sequence, stored.updated_at) == (2, 2, T2)
    assert await stores.sessions.list_events("a", 0, 0) == [outcomes[0].event, outcomes[2].event]


async def test_concurrent_appends_get_unique_gapless_sequences(stores):
    await stores.sessions.create_session(session("s1"))
    batches = await asyncio.gather(*(stores.sessions.append_events([append("s1", body={"i": i})], T1) for i in range(30)))
    assert sorted(outcome.event.sequence for [outcome] in batches) == list(range(1, 31))
    stored = await stores.sessions.list_events("s1", 0, 0)
    assert [e.sequence for e in stored] == list(range(1, 31))
    feed = [e.feed_sequence for e in stored]
    assert feed == sorted(feed) and len(set(feed)) == 30


async def test_an_event_may_carry_its_own_session_name(stores):
    await stores.sessions.create_session(session("s1"))
    pending = PendingAppend("s1", NewEvent(event_type="pre_tool", timestamp=T1, session_name="from the producer"))
    [outcome] = await stores.sessions.append_events([pending], T1)
    assert outcome.event.session_name == "from the producer"
    [stored] = await stores.sessions.list_events("s1", 0, 0)
    assert stored.session_name == "from the producer"


async def test_a_missing_session_refuses_its_event_and_the_rest_commit(stores):
    await stores.sessions.create_session(session("s1"))
    outcomes = await stores.sessions.append_events([append("missing"), append("s1")], T1)
    assert outcomes[0] is None and outcomes[1].event.sequence == 1
    assert await stores.sessions.get_session("missing") is None


async def test_an_append_may_create_its_session(stores):
    new = session("fresh", owner="alice")
    outcomes = await stores.sessions.append_events(
        [append("fresh", "session_start", create_if_missing=new), append("fresh", create_if_missing=new)], T1
    )
    assert outcomes[0].session_created and outcomes[0].session.session_id == "fresh"
    assert outcomes[0].owner_id == "alice" and outcomes[0].session.event_count == 1
    assert not outcomes[1].session_created and outcomes[1].event.sequence == 2
    assert (await stores.sessions.get_session("fresh")).event_count == 2


async def test_stop_finishes_a_session_and_start_resumes_it(stores):
    await stores.sessions.create_session(session("s1"))
    [stop] = await stores.sessions.append_events([append("s1", "session_stop")], T1)
    assert stop.session_changed and stop.session.status == "finished"
    assert (await stores.sessions.get_session("s1")).status == "finished"
    [start] = await stores.sessions.append_events([append("s1", "session_start")], T2)
    assert start.session_changed and start.session.status == "running" and start.session.last_resumed_at == T2
    stored = await stores.sessions.get_session("s1")
    assert (stored.status, stored.last_resumed_at, stored.event_count) == ("running", T2, 2)
    # A start on a running session changes nothing.
    [again] = await stores.sessions.append_events([append("s1", "session_start")], T2)
    assert not again.session_changed and again.session is None


async def test_an_append_outside_its_scope_is_as_if_the_session_did_not_exist(stores):
    await stores.sessions.create_session(session("bobs", owner="bob"))
    outcomes = await stores.sessions.append_events(
        [
            append("bobs", scope="bob"),
            # Batched with bob's own append, alice's still may not write.
            append("bobs", scope="alice"),
            append("bobs", "session_start", scope="alice", create_if_missing=session("bobs", owner="alice")),
            append("bobs"),
        ],
        T1,
    )
    assert outcomes[1] is None and outcomes[2] is None
    assert [o.event.sequence for o in (outcomes[0], outcomes[3])] == [1, 2]
    assert outcomes[0].owner_id == "bob"
    stored = await stores.sessions.get_session("bobs")
    assert (stored.owner_id, stored.event_count) == ("bob", 2)


async def test_events_read_after_a_sequence_in_pages(stores):
    await stores.sessions.create_session(session("s1"))
    await stores.sessions.append_events([append("s1", body={"i": i}) for i in range(5)], T1)
    assert [e.sequence for e in await stores.sessions.list_events("s1", 2, 0)] == [3, 4, 5]
    assert [e.sequence for e in await stores.sessions.list_events("s1", 1, 2)] == [2, 3]
    assert await stores.sessions.list_events("s1", 5, 0) == []
    assert await stores.sessions.list_events("missing", 0, 0) == []


async def test_the_feed_reads_every_session_in_order_or_one_owners(stores):
    await stores.sessions.create_session(session("mine", owner="alice"))
    await stores.sessions.create_session(session("theirs", owner="bob"))
    outcomes = await stores.sessions.append_events([append("mine"), append("theirs"), append("mine")], T1)
    feed = await stores.sessions.list_feed(0, 0)
    assert [e.event_id for e in feed] == [o.event.event_id for o in outcomes]
    assert feed == [o.event for o in outcomes]
    after_first = await stores.sessions.list_feed(outcomes[0].event.feed_sequence, 1)
    assert [e.event_id for e in after_first] == [outcomes[1].event.event_id]
    alices = await stores.sessions.list_feed(0, 0, "alice")
    assert [e.event_id for e in alices] == [outcomes[0].event.event_id, outcomes[2].event.event_id]


async def test_latest_event_of_a_type_and_role_goes_by_timestamp_then_sequence(stores):
    await stores.sessions.create_session(session("s1"))

    def message(role: str, text: str, timestamp: str) -> PendingAppend:
        return append("s1", "message", timestamp, body={"role": role, "content": [{"type": "text", "text": text}]})

    assert await stores.sessions.latest_event("s1", "message", "assistant") is None
    await stores.sessions.append_events(
        [message("assistant", "late", T2), message("assistant", "early", T1), message("user", "latest", "2026-01-02T00:00:00.000Z")],
        T2,
    )
    latest = await stores.sessions.latest_event("s1", "message", "assistant")
    assert latest.body["content"][0]["text"] == "late"
    await stores.sessions.append_events([message("assistant", "tie, later in the log", T2)], T2)
    latest = await stores.sessions.latest_event("s1", "message", "assistant")
    assert latest.body["content"][0]["text"] == "tie, later in the log"
    assert (await stores.sessions.latest_event("s1", "message", "user")).body["content"][0]["text"] == "latest"


async def test_point_reads_see_every_acknowledged_write_at_once(stores):
    await stores.sessions.create_session(session("s1", session_name="first name"))
    for index in range(1, 6):
        await stores.sessions.append_events([append("s1", body={"i": index})], T1)
        assert (await stores.sessions.get_session("s1")).last_sequence == index
    await stores.sessions.update_session("s1", {"session_name": "second name"}, T2)
    assert (await stores.sessions.get_session("s1")).session_name == "second name"
    await stores.sessions.delete_session("s1")
    assert await stores.sessions.get_session("s1") is None
