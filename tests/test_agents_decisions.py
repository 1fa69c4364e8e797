"""What a run does with a human's decision, the iteration limit, a failing
model and a stop, for both provider formats: the agents domain of a real
server without Envoy (the scripted OpenAI-format and Anthropic-format
servers play the model, on real temp git projects). The REST document of
the same runs (shapes, 400/404/409 bodies, idempotency headers, /ws/tasks)
is test_agents_rest.py."""

from __future__ import annotations

import grpc
import pytest
import pytest_asyncio

from agentruntime.v1 import agent_pb2, agent_pb2_grpc
from agent_runtime.errors import Conflict
from agent_helpers import git_log, wait_for
from conftest import grpc_metadata, make_settings, running, two_providers
from llm_fakes import Call, Reply
from process_helpers import host_processes, unique_sleep

TERMINAL = ("completed", "failed", "stopped")
OWNER = "alice"


@pytest_asyncio.fixture(scope="module")
async def agents_runtime(tmp_path_factory, fakes):
    agents = {"command_timeout_seconds": 5}
    settings = make_settings(tmp_path_factory.mktemp("data"), llm=two_providers(fakes), agents=agents, server={"run_envoy": False})
    async with running(settings) as started:
        yield started


@pytest.fixture
def tasks(agents_runtime):
    return agents_runtime.agents.tasks


@pytest.fixture
async def session_id(agents_runtime, project):
    return (await agents_runtime.agents.projects.create_project_session("decisions", str(project))).session.session_id


async def finished(tasks, task_id):
    return await wait_for(lambda: tasks.get_task(task_id), lambda t: t.status in TERMINAL)


async def pending_approval(tasks, task_id):
    return (await wait_for(lambda: tasks.list_approvals(task_id, "pending"), lambda a: len(a) == 1))[0]


async def test_reject_feeds_back_to_model(tasks, fakes, project, session_id):
    openai_fake, _ = fakes
    openai_fake.add(
        Reply(tool_calls=[Call("delete_file", {"path": "README.md"})]),
        Reply(text="Understood, I left README.md alone."),
    )
    task = await tasks.create_task(session_id, "clean up", owner=OWNER)
    approval = await pending_approval(tasks, task.task_id)
    decided = await tasks.decide_approval(task.task_id, approval.approval_id, "reject", None, "keep the README")
    assert decided.status == "rejected" and decided.feedback == "keep the README"
    done = await finished(tasks, task.task_id)
    assert done.status == "completed" and (project / "README.md").exists()
    told = openai_fake.requests[-1]["messages"][-1]
    assert told["role"] == "tool" and "rejected" in told["content"] and "keep the README" in told["content"]


async def test_anthropic_task_with_approval(tasks, fakes, project, session_id):
    _, anthropic_fake = fakes
    anthropic_fake.add(
        Reply(text="Reading.", tool_calls=[Call("read_file", {"path": "README.md"})]),
        Reply(tool_calls=[Call("write_file", {"path": "README.md", "content": "# demo\nhello agents\n"})]),
        Reply(tool_calls=[Call("git_commit", {"message": "Greet agents"})]),
        Reply(text="README updated."),
    )
    task = await tasks.create_task(session_id, "greet agents", owner=OWNER, model="claude-3-5-sonnet-20241022")
    approval = await pending_approval(tasks, task.task_id)
    await tasks.decide_approval(task.task_id, approval.approval_id, "approve", None, "")
    done = await finished(tasks, task.task_id)
    assert done.status == "completed" and done.result_summary == "README updated."
    assert git_log(project)[0] == "Greet agents"
    diff = await tasks.get_artifact(task.task_id, "diff.patch")
    assert b"+hello agents" in diff.content
    second = anthropic_fake.requests[-3]["messages"]
    assert second[-1]["content"][0]["type"] == "tool_result" and "hello world" in second[-1]["content"][0]["content"]


async def test_anthropic_reject_and_edit(tasks, fakes, project, session_id):
    _, anthropic_fake = fakes
    anthropic_fake.add(
        Reply(tool_calls=[Call("delete_file", {"path": "README.md"})]),
        Reply(tool_calls=[Call("write_file", {"path": "a.md", "content": "draft"})]),
        Reply(text="Kept README, wrote a.md."),
    )
    task = await tasks.create_task(session_id, "edit docs", owner=OWNER, model="anthropic/claude-scripted")
    first = await pending_approval(tasks, task.task_id)
    await tasks.decide_approval(task.task_id, first.approval_id, "reject", None, "README stays")
    second = await pending_approval(tasks, task.task_id)
    assert second.tool_name == "write_file"
    await tasks.decide_approval(task.task_id, second.approval_id, "edit", {"path": "a.md", "content": "final"}, "")
    done = await finished(tasks, task.task_id)
    assert done.status == "completed" and done.model == "anthropic/claude-scripted"
    assert (project / "README.md").exists() and (project / "a.md").read_text() == "final"
    rejected = anthropic_fake.requests[-2]["messages"][-1]["content"][0]
    assert rejected["type"] == "tool_result" and rejected["is_error"] is True and "README stays" in rejected["content"]
    assert anthropic_fake.requests[-1]["model"] == "claude-scripted"


async def test_max_iterations_and_llm_error(tasks, fakes, session_id):
    openai_fake, _ = fakes
    openai_fake.add(*[Reply(tool_calls=[Call("list_files", {})]) for _ in range(2)])
    task = await tasks.create_task(session_id, "loop", owner=OWNER, max_iterations=2)
    done = await finished(tasks, task.task_id)
    assert done.status == "failed" and done.error_code == "MAX_ITERATIONS_REACHED"
    assert (done.result_success, done.result_summary) == (False, "Maximum iterations reached")
    openai_fake.add(Reply(status=500, headers={"retry-after-ms": "1"}), Reply(status=500, headers={"retry-after-ms": "1"}))
    task = await tasks.create_task(session_id, "fail", owner=OWNER)
    done = await finished(tasks, task.task_id)
    assert done.status == "failed" and done.error_code == "LLM_ERROR" and "HTTP 500" in done.result_summary


async def test_stop_while_waiting_auto_rejects(tasks, fakes, session_id):
    openai_fake, _ = fakes
    openai_fake.add(Reply(tool_calls=[Call("execute_command", {"command": "echo hi"})]))
    task = await tasks.create_task(session_id, "run", owner=OWNER)
    approval = await pending_approval(tasks, task.task_id)
    assert (await tasks.stop_task(task.task_id)).status == "stopped"
    [rejected] = await tasks.list_approvals(task.task_id)
    assert rejected.status == "rejected" and "task stopped" in rejected.feedback
    with pytest.raises(Conflict):
        await tasks.decide_approval(task.task_id, approval.approval_id, "approve", None, "")
    assert (await tasks.stop_task(task.task_id)).status == "stopped"


async def test_stop_kills_running_command(tasks, fakes, project, session_id):
    openai_fake, _ = fakes
    marker = unique_sleep()
    command = f"sleep {marker} & echo started > started; wait"
    openai_fake.add(Reply(tool_calls=[Call("list_files", {})]), Reply(tool_calls=[Call("execute_command", {"command": command})]))
    # execute_command needs approval; approve it, then stop while it runs.
    task = await tasks.create_task(session_id, "run long", owner=OWNER)
    approval = await pending_approval(tasks, task.task_id)
    await tasks.decide_approval(task.task_id, approval.approval_id, "approve", None, "")
    await wait_for(lambda: _read(project / "started"), bool)
    assert (await tasks.stop_task(task.task_id)).status == "stopped"
    assert await wait_for(_gone(marker), bool)


async def _read(path):
    return path.read_text().strip() if path.exists() else ""


def _gone(marker):
    async def check():
        return not host_processes(marker)

    return check


async def test_grpc_execute_task_and_status_with_idempotency(agents_runtime, fakes, project):
    openai_fake, _ = fakes
    openai_fake.add(Reply(text="gRPC task done."))
    async with grpc.aio.insecure_channel(agents_runtime.grpc_target) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        request = agent_pb2.ExecuteTaskRequest(prompt="Say done", context={"working_directory": str(project)}, tools=["read_file"])
        metadata = (*grpc_metadata(), ("idempotency-key", "grpc-key-1"))
        first = await stub.ExecuteTask(request, metadata=metadata)
        assert first.status == "accepted" and first.message == "Task submitted for execution" and first.task_id
        again = await stub.ExecuteTask(request, metadata=metadata)
        assert again == first
        with pytest.raises(grpc.aio.AioRpcError) as reused:
            await stub.ExecuteTask(agent_pb2.ExecuteTaskRequest(prompt="other"), metadata=metadata)
        assert reused.value.code() == grpc.StatusCode.ABORTED

        async def status():
            return await stub.GetTaskStatus(agent_pb2.GetTaskStatusRequest(task_id=first.task_id), metadata=grpc_metadata())

        final = await wait_for(status, lambda s: s.status == "completed")
        assert final.result == "gRPC task done."
        watch = stub.WatchAgentTask(agent_pb2.WatchAgentTaskRequest(task_id=first.task_id), metadata=grpc_metadata())
        events = [e async for e in watch]
        assert events[0].type == "status" and events[0].status == "accepted"
        assert events[-1].type == "status" and events[-1].status == "completed"
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        # The request's `tools` limited the model to read_file (+ update_plan).
        assert [t["function"]["name"] for t in openai_fake.requests[-1]["tools"]] == ["read_file"]
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.GetTaskStatus(agent_pb2.GetTaskStatusRequest(task_id="nope"), metadata=grpc_metadata())
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
