"""Run-loop behaviour through the domain classes of a real (gRPC-only)
server: watchdog, approval expiry, no provider, context limits, input."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import sqlite3

import pytest
import pytest_asyncio
import structlog

from agent_runtime.agents import runner as runner_module
from agent_runtime.agents.context import assemble_context
from agent_runtime.agents.models import ClientTool, HitlSettings
from agent_runtime.agents.codelab import MessageReply
from agent_runtime.errors import Conflict
from agent_runtime.storage.errors import DatabaseError
from agent_runtime.llm.base import ChatMessage, ToolCall
from agent_helpers import git_project, wait_for
from conftest import make_settings, running
from llm_fakes import Call, Reply

TERMINAL = ("completed", "failed", "stopped")


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory, fake):
    agents = {
        "watchdog_seconds": 0.6,
        # Long enough that no decision below races an expiry on a loaded
        # machine; the expiry test has its own server.
        "approval_timeout_seconds": 60,
        "max_context_messages": 6,
    }
    llm = {"openai_base_url": fake.base_url, "max_retries": 0, "timeout_seconds": 10}
    async with running(make_settings(tmp_path_factory.mktemp("data"), llm=llm, agents=agents, server={"run_envoy": False})) as started:
        yield started


@pytest.fixture
async def session_id(runtime, tmp_path):
    project = git_project(tmp_path / "project")
    return (await runtime.agents.projects.create_project_session("runs", str(project))).session.session_id


async def finished(runtime, task_id):
    return await wait_for(lambda: runtime.agents.tasks.get_task(task_id), lambda t: t.status in TERMINAL)


async def test_watchdog_fails_a_run_without_progress(runtime, fake, session_id):
    fake.add(Reply(text="too late", delay=3))
    task = await runtime.agents.tasks.create_task(session_id, "hang", owner="alice")
    assert task.owner == "alice"
    done = await finished(runtime, task.task_id)
    assert done.status == "failed" and done.error_code == "WATCHDOG_TIMEOUT"
    events = [e async for e in runtime.agents.tasks.watch(task.task_id)]
    assert [e.type for e in events[-2:]] == ["error", "status"] and events[-2].body["code"] == "WATCHDOG_TIMEOUT"


async def _slow_to_end(approvals, monkeypatch, seconds):
    """The run's ending (its first write, rejecting what it left pending)
    takes `seconds`; the event is set when the ending began."""
    import asyncio

    ending = asyncio.Event()
    reject_pending = approvals.reject_pending

    async def slow_reject_pending(task_id, why):
        ending.set()
        await asyncio.sleep(seconds)
        await reject_pending(task_id, why)

    monkeypatch.setattr(approvals, "reject_pending", slow_reject_pending)
    return ending


async def test_the_watchdog_leaves_a_run_that_is_ending_alone(runtime, fake, session_id, monkeypatch):
    """Ending longer than the watchdog's 0.6 s (a loaded machine) is not
    "no progress": the run ends as its turns decided, never left `running`."""
    ending = await _slow_to_end(runtime.agents.tasks.approvals, monkeypatch, 1.5)
    fake.add(Reply(text="done"))
    task = await runtime.agents.tasks.create_task(session_id, "end slowly", owner="alice")
    done = await finished(runtime, task.task_id)
    assert ending.is_set()
    assert (done.status, done.error_code) == ("completed", None)


async def test_a_stop_during_the_ending_waits_for_it(runtime, fake, session_id, monkeypatch):
    ending = await _slow_to_end(runtime.agents.tasks.approvals, monkeypatch, 0.3)
    fake.add(Reply(text="done"))
    task = await runtime.agents.tasks.create_task(session_id, "stop while ending", owner="alice")
    await ending.wait()
    stopped = await runtime.agents.tasks.stop_task(task.task_id)
    assert stopped.status == "completed"


async def test_expired_approval_is_rejected_with_reason(tmp_path, fake):
    project = git_project(tmp_path / "project")
    agents = {"watchdog_seconds": 0.6, "approval_timeout_seconds": 1.5}
    llm = {"openai_base_url": fake.base_url, "max_retries": 0}
    async with running(make_settings(tmp_path / "data", llm=llm, agents=agents, server={"run_envoy": False})) as runtime:
        session = (await runtime.agents.projects.create_project_session("expiry", str(project))).session.session_id
        fake.add(Reply(tool_calls=[Call("write_file", {"path": "x", "content": "y"})]), Reply(text="ok, not writing"))
        task = await runtime.agents.tasks.create_task(session, "write", owner="alice")
        done = await finished(runtime, task.task_id)
        # Waiting for a human is not "no progress": the watchdog (0.6 s) let
        # the approval run to its expiry (1.5 s).
        assert done.status == "completed"
        [approval] = await runtime.agents.tasks.list_approvals(task.task_id)
        assert approval.status == "expired" and "expired" in approval.feedback
        with pytest.raises(Conflict):
            await runtime.agents.tasks.decide_approval(task.task_id, approval.approval_id, "approve", None, "")
        assert "approval expired" in fake.requests[-1]["messages"][-1]["content"]


async def test_unanswered_client_tool_call_expires(tmp_path, fake):
    """APPROVAL_TIMEOUT_SECONDS holds for a client tool call too: the model
    hears that the call expired and a late result is refused."""
    project = git_project(tmp_path / "project")
    llm = {"openai_base_url": fake.base_url, "max_retries": 0}
    async with running(make_settings(tmp_path / "data", llm=llm, agents={"approval_timeout_seconds": 1.5}, server={"run_envoy": False})) as runtime:
        tool = ClientTool("run_ide_tests", "Runs the tests in the IDE", {"type": "object", "properties": {}})
        created = await runtime.agents.codelab.create_codelab_session("alice", {"project_path": str(project)}, hitl=HitlSettings(client_tools=[tool]))
        session_id = created.session.session_id
        fake.add(Reply(tool_calls=[Call("run_ide_tests", {}, id="ide-1")]), Reply(text="The IDE never answered"))
        events = [e async for e in runtime.agents.codelab.send_message(session_id, "switch_agent", "test it", "ask", owner="alice")]
        assert events[-1]["status"] == "waiting_tool_result"
        done = await finished(runtime, events[-1]["task_id"])
        assert done.status == "completed" and done.result_summary == "The IDE never answered"
        told = fake.requests[-1]["messages"][-1]
        assert told["tool_call_id"] == "ide-1" and "expired" in told["content"] and "APPROVAL_TIMEOUT_SECONDS" in told["content"]
        late = runtime.agents.codelab.send_message(
            session_id, "tool_result", "", owner="alice", reply=MessageReply(call_id="ide-1", result="12 passed")
        )
        with pytest.raises(Conflict, match="expired"):
            await anext(late)


async def test_fresh_workspaces_work_with_a_relative_data_dir(tmp_path, monkeypatch):
    """`./data` is the default: a fresh workspace is stored as an absolute
    path, which tasks require."""
    monkeypatch.chdir(tmp_path)
    async with running(make_settings(pathlib.Path("data"), server={"run_envoy": False})) as runtime:
        session = await runtime.agents.projects.create_project_session("scratch", "")
        assert session.session.project_dir == str(tmp_path / "data" / "workspaces" / pathlib.Path(session.session.project_dir).name)
        task = await runtime.agents.tasks.create_task(session.session.session_id, "look around", owner="bob")
        assert task.working_directory == session.session.project_dir


async def test_no_provider_configured_fails_fast(tmp_path):
    project = git_project(tmp_path / "project")
    async with running(make_settings(tmp_path / "data", server={"run_envoy": False})) as runtime:
        session = await runtime.agents.projects.create_project_session("none", str(project))
        task = await runtime.agents.tasks.create_task(session.session.session_id, "anything", owner="bob")
        done = await finished(runtime, task.task_id)
        assert done.status == "failed" and done.error_code == "NO_PROVIDER_CONFIGURED"
        assert "no model provider configured" in done.result_summary
        listings, default = await runtime.agents.models.list_providers()
        assert default == "" and not any(p.info.configured for p in listings)


async def test_context_window_is_limited(runtime, fake, session_id):
    fake.add(*[Reply(tool_calls=[Call("read_file", {"path": "README.md"})]) for _ in range(5)], Reply(text="done"))
    task = await runtime.agents.tasks.create_task(session_id, "read a lot", owner="alice")
    done = await finished(runtime, task.task_id)
    assert done.status == "completed" and done.iterations == 6
    last = fake.requests[-1]["messages"]
    assert len(last) <= 6
    assert last[0]["role"] == "system" and last[1] == {"role": "user", "content": "read a lot"}
    assert "left out to fit the context window" in last[2]["content"]
    assert last[3]["role"] == "assistant"


def test_assemble_context_token_budget_and_orphans():
    call = ToolCall("c1", "read_file", {"path": "a"})
    messages = [
        ChatMessage("system", "sys"),
        ChatMessage("user", "task"),
        ChatMessage("assistant", "", [call]),
        ChatMessage("tool", "x" * 4000, tool_call_id="c1"),
        ChatMessage("assistant", "", [ToolCall("c2", "read_file", {"path": "b"})]),
        ChatMessage("tool", "short", tool_call_id="c2"),
    ]
    window = assemble_context(messages, max_messages=50, max_tokens=300)
    assert [m.role for m in window] == ["system", "user", "user", "assistant", "tool"]
    assert window[-1].content == "short"
    everything = assemble_context(messages, max_messages=50, max_tokens=100_000)
    assert everything == messages
    huge = assemble_context([ChatMessage("system", "s"), ChatMessage("user", "t" * 100_000)], 10, 1000)
    assert len(huge[1].content) < 2500 and "cut to fit" in huge[1].content


async def test_input_reaches_the_model_and_tasks_are_listed(runtime, fake, session_id):
    fake.add(Reply(tool_calls=[Call("delete_file", {"path": "README.md"})]), Reply(text="kept it"))
    task = await runtime.agents.tasks.create_task(session_id, "tidy", owner="alice")
    await wait_for(lambda: runtime.agents.tasks.list_approvals(task.task_id, "pending"), lambda a: len(a) == 1)
    await runtime.agents.tasks.send_input(task.task_id, "never delete the README")
    [approval] = await runtime.agents.tasks.list_approvals(task.task_id, "pending")
    await runtime.agents.tasks.decide_approval(task.task_id, approval.approval_id, "reject", None, "no")
    done = await finished(runtime, task.task_id)
    assert done.status == "completed"
    assert {"role": "user", "content": "never delete the README"} in fake.requests[-1]["messages"]
    with pytest.raises(Conflict):
        await runtime.agents.tasks.send_input(task.task_id, "too late")
    listed = await runtime.agents.tasks.list_tasks(session_id)
    assert task.task_id in [t.task_id for t in listed]
    view = await runtime.agents.projects.get_project_session(session_id)
    assert view.task_count == len(listed)


async def test_runs_beyond_the_slots_are_queued(tmp_path, fake):
    project = git_project(tmp_path / "project")
    llm = {"openai_base_url": fake.base_url, "max_retries": 0}
    async with running(make_settings(tmp_path / "data", llm=llm, agents={"max_concurrent_runs": 1}, server={"run_envoy": False})) as runtime:
        session = (await runtime.agents.projects.create_project_session("q", str(project))).session.session_id
        fake.add(Reply(text="slow", delay=0.5), Reply(text="second done"))
        first = await runtime.agents.tasks.create_task(session, "first", owner="a")
        assert first.status == "running"
        second = await runtime.agents.tasks.create_task(session, "second", owner="a")
        assert second.status == "queued"
        for task in (first, second):
            assert (await finished(runtime, task.task_id)).status == "completed"
        statuses = [e.body["status"] async for e in runtime.agents.tasks.watch(second.task_id) if e.type == "status"]
        assert statuses == ["accepted", "queued", "running", "completed"]
        # A run waiting for a human gives its slot to the next run.
        fake.add(Reply(tool_calls=[Call("write_file", {"path": "q", "content": "q"})]), Reply(text="third done"))
        waiting = await runtime.agents.tasks.create_task(session, "waits", owner="a")
        await wait_for(lambda: runtime.agents.tasks.list_approvals(waiting.task_id, "pending"), lambda a: len(a) == 1)
        third = await runtime.agents.tasks.create_task(session, "third", owner="a")
        assert (await finished(runtime, third.task_id)).result_summary == "third done"
        fake.add(Reply(text="waiter done"))
        [approval] = await runtime.agents.tasks.list_approvals(waiting.task_id, "pending")
        await runtime.agents.tasks.decide_approval(waiting.task_id, approval.approval_id, "approve", None, "")
        assert (await finished(runtime, waiting.task_id)).status == "completed"


@contextlib.asynccontextmanager
async def short_leases(tmp_path, fake):
    """A server whose leases renew every 0.2 s (a stop written by another
    process is heard at the next renewal), and a project session on it."""
    project = git_project(tmp_path / "project")
    llm = {"openai_base_url": fake.base_url, "max_retries": 0, "timeout_seconds": 300}
    agents = {"run_lease_seconds": 0.6}
    async with running(make_settings(tmp_path / "data", llm=llm, agents=agents, server={"run_envoy": False})) as runtime:
        yield runtime, (await runtime.agents.projects.create_project_session("stop", str(project))).session.session_id


async def start_slow_answer(runtime, fake, session, description):
    """A task whose run waits in a model call (until stopped)."""
    asked = len(fake.requests)
    fake.add(Reply(text="never told", delay=240))
    task = await runtime.agents.tasks.create_task(session, description, owner="a")

    async def requests() -> int:
        return len(fake.requests)

    await wait_for(requests, lambda n: n == asked + 1)
    return task


async def stopped_by_another_process(runtime, tmp_path, task_id):
    with sqlite3.connect(tmp_path / "data" / "agent-runtime.sqlite3") as other_process:
        other_process.execute("UPDATE agent_tasks SET stop_requested = 1 WHERE task_id = ?", (task_id,))
    done = await finished(runtime, task_id)
    assert (done.status, done.result_summary) == ("stopped", "Task stopped")


async def test_a_stop_that_another_process_wrote_without_a_notification_ends_the_run(tmp_path, fake):
    """A stop reaches the holder through a notification (PostgreSQL); a
    holder that missed it (or on SQLite, where another process's write
    notifies nobody) hears it at its next lease renewal, mid-model-call."""
    async with short_leases(tmp_path, fake) as (runtime, session):
        task = await start_slow_answer(runtime, fake, session, "answer slowly")
        await stopped_by_another_process(runtime, tmp_path, task.task_id)


async def test_a_task_the_claims_took_before_its_creator_accepted_it_is_not_claimed_twice(tmp_path, fake, monkeypatch):
    """The claim loop may claim a new task between its insert and its
    creator's claim (both this process's): the creator then leaves it to
    the run the claims started, whose lease stays the one renewed, so a stop
    that another process wrote still reaches it."""
    async with short_leases(tmp_path, fake) as (runtime, session):
        runner = runtime.agents.tasks._runner
        accept = runner.accept

        async def creator_too_slow(task_id):
            pass

        monkeypatch.setattr(runner, "accept", creator_too_slow)
        task = await start_slow_answer(runtime, fake, session, "claimed first")
        await accept(task.task_id)
        await stopped_by_another_process(runtime, tmp_path, task.task_id)
        events = [e async for e in runtime.agents.tasks.watch(task.task_id)]
        assert [e.body.get("message") for e in events if e.type == "status"].count("Task accepted") == 1


async def test_a_run_whose_write_failed_after_another_process_ended_its_task_says_its_lease_was_lost(tmp_path, fake, monkeypatch):
    """A holder stopped mid-transaction (SIGSTOP) comes back to a connection
    the database closed: its next write fails as a database error, not at
    the fence. The process that claimed the task meanwhile has ended it:
    this run writes nothing more and logs that its lease was lost."""
    log = structlog.testing.CapturingLogger()
    monkeypatch.setattr(runner_module, "log", log)
    project = git_project(tmp_path / "project")
    llm = {"openai_base_url": fake.base_url, "max_retries": 0, "timeout_seconds": 300}
    async with running(make_settings(tmp_path / "data", llm=llm, server={"run_envoy": False})) as runtime:
        session = (await runtime.agents.projects.create_project_session("taken over", str(project))).session.session_id
        answer = asyncio.Event()
        fake.add(Reply(text="stale answer", hold=answer))
        task = await runtime.agents.tasks.create_task(session, "answer", owner="a")
        runner = runtime.agents.tasks._runner
        store = runner.reporter._tasks

        async def events():
            return await store.list_events(task.task_id, 0, 100)

        await wait_for(events, lambda written: any(e.type == "token" for e in written))
        with sqlite3.connect(tmp_path / "data" / "agent-runtime.sqlite3") as other_process:
            other_process.execute(
                "UPDATE agent_tasks SET lease_owner = 'another process', lease_epoch = lease_epoch + 1,"
                " status = 'completed', result_summary = 'fresh answer' WHERE task_id = ?",
                (task.task_id,),
            )
        written = await events()

        async def connection_closed(*_args, **_kwargs):
            raise DatabaseError("Database error: the underlying connection is closed")

        monkeypatch.setattr(store, "append_event", connection_closed)
        answer.set()
        await wait_for(lambda: _running_here(runner, task.task_id), lambda running_here: not running_here)
        monkeypatch.undo()
        done = await runtime.agents.tasks.get_task(task.task_id)
        assert (done.status, done.result_summary) == ("completed", "fresh answer")
        assert await events() == written
    assert [call.args for call in log.calls if call.method_name == "warning"] == [("agent.lease_lost",)]


async def _running_here(runner, task_id: str) -> bool:
    return runner.is_running_here(task_id)


async def test_devin_task_without_directory_gets_a_git_workspace(runtime, fake):
    fake.add(Reply(tool_calls=[Call("write_file", {"path": "hello.txt", "content": "hi"})]), Reply(text="made it"))
    task = await runtime.agents.tasks.execute_task("create hello.txt", {}, [], owner="devin")
    [approval] = await wait_for(lambda: runtime.agents.tasks.list_approvals(task.task_id, "pending"), lambda a: len(a) == 1)
    await runtime.agents.tasks.decide_approval(task.task_id, approval.approval_id, "approve", None, "")
    done = await finished(runtime, task.task_id)
    assert done.status == "completed" and done.working_directory.startswith(str(runtime.settings.data_dir))
    diff = await runtime.agents.tasks.get_artifact(task.task_id, "diff.patch")
    assert b"+hi" in diff.content and diff.content_type == "text/x-diff"


async def test_only_owners_and_admins_see_a_task(runtime, fake, session_id):
    from agent_runtime.errors import NotFound
    from agent_runtime.interceptors.auth import Principal

    fake.add(Reply(text="mine"))
    task = await runtime.agents.tasks.create_task(session_id, "private", owner="alice")
    await finished(runtime, task.task_id)
    alice, bob, admin = Principal("user", "alice"), Principal("user", "bob"), Principal("api_key", "ops", admin=True)
    assert (await runtime.agents.tasks.check_access(task.task_id, alice)).task_id == task.task_id
    assert (await runtime.agents.tasks.check_access(task.task_id, admin)).task_id == task.task_id
    with pytest.raises(NotFound):
        await runtime.agents.tasks.check_access(task.task_id, bob)
    # The session was made by an administrator: not the users' to list.
    with pytest.raises(NotFound):
        await runtime.agents.tasks.list_tasks(session_id, bob)
    assert task.task_id in [t.task_id for t in await runtime.agents.tasks.list_tasks(session_id, admin)]
