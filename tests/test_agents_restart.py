"""Kill -9 the server mid-run, with an approval pending, and mid-command;
after a restart nothing is lost: the run resumes where it was persisted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import time

import grpc
import pytest

from agentruntime.v1 import agent_pb2, agent_pb2_grpc
from agent_helpers import git_project, wait_for
from conftest import TEST_API_KEY, grpc_metadata, make_settings, running
from llm_fakes import Call, FakeOpenAI, Reply
from ports import free_port
from process_helpers import host_processes, unique_sleep

pytestmark = pytest.mark.slow
ROOT = pathlib.Path(__file__).resolve().parents[1]
META = grpc_metadata()


@contextlib.asynccontextmanager
async def server_process(data_dir: pathlib.Path, fake: FakeOpenAI, extra_env: dict | None = None):
    """`agent-runtime serve --no-envoy` as a child process; yields (process,
    stub)."""
    port = free_port()
    log = open(data_dir / "server.log", "w")
    env = {
        **os.environ,
        "AGENT_API_KEY": TEST_API_KEY,
        "OPENAI_BASE_URL": fake.base_url,
        "LLM_MAX_RETRIES": "0",
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_runtime", "serve", "--no-envoy", "--grpc-port", str(port), "--data-dir", str(data_dir)],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while "ready" not in (data_dir / "server.log").read_text():
            assert process.poll() is None and time.monotonic() < deadline, (data_dir / "server.log").read_text()
            await asyncio.sleep(0.05)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield process, agent_pb2_grpc.AgentServiceStub(channel)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()


def restarted_settings(data_dir, fake, **agents):
    llm = {"openai_base_url": fake.base_url, "max_retries": 0}
    return make_settings(data_dir, llm=llm, agents=agents, server={"run_envoy": False})


async def start_task(stub, project, description) -> str:
    session = await stub.CreateProjectSession(
        agent_pb2.CreateProjectSessionRequest(name="restart", working_directory=str(project)), metadata=META
    )
    task = await stub.CreateAgentTask(agent_pb2.CreateAgentTaskRequest(session_id=session.id, description=description), metadata=META)
    return task.id


def kill9(process) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


async def wait_done(runtime, task_id):
    return await wait_for(lambda: runtime.agents.tasks.get_task(task_id), lambda t: t.status in ("completed", "failed", "stopped"))


async def test_kill_mid_llm_call_resumes_the_run(tmp_path):
    project = git_project(tmp_path / "project")
    data = tmp_path / "data"
    data.mkdir()
    async with FakeOpenAI([Reply(tool_calls=[Call("list_files", {})]), Reply(text="never sent", delay=60)]) as fake:
        async with server_process(data, fake) as (process, stub):
            task_id = await start_task(stub, project, "look around")
            await wait_for(lambda: _count(fake), lambda n: n == 2)
            kill9(process)
        fake.add(Reply(text="Finished after the restart."))
        async with running(restarted_settings(data, fake)) as runtime:
            task = await wait_done(runtime, task_id)
            assert task.status == "completed" and task.result_summary == "Finished after the restart."
            assert task.iterations == 3
            events = [e async for e in runtime.agents.tasks.watch(task_id)]
            assert any(e.body.get("message") == "Resumed after a server restart" for e in events)
            assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        # The resumed call carried the conversation so far.
        resumed = fake.requests[-1]["messages"]
        assert resumed[-1]["role"] == "tool" and "README.md" in resumed[-1]["content"]


async def test_kill_with_pending_approval_keeps_it(tmp_path):
    project = git_project(tmp_path / "project")
    data = tmp_path / "data"
    data.mkdir()
    async with FakeOpenAI([Reply(tool_calls=[Call("write_file", {"path": "kept.txt", "content": "kept"})])]) as fake:
        async with server_process(data, fake) as (process, stub):
            task_id = await start_task(stub, project, "write kept.txt")

            async def pending():
                return (await stub.ListToolApprovals(agent_pb2.ListToolApprovalsRequest(task_id=task_id, status="pending"), metadata=META)).approvals

            approval = (await wait_for(pending, lambda a: len(a) == 1))[0]
            kill9(process)
        fake.add(Reply(text="Wrote kept.txt."))
        async with running(restarted_settings(data, fake)) as runtime:
            task = await runtime.agents.tasks.get_task(task_id)
            assert task.status == "waiting_approval"
            [still] = await runtime.agents.tasks.list_approvals(task_id, "pending")
            assert still.approval_id == approval.id and still.arguments == {"path": "kept.txt", "content": "kept"}
            await runtime.agents.tasks.decide_approval(task_id, approval.id, "approve", None, "")
            task = await wait_done(runtime, task_id)
            assert task.status == "completed" and (project / "kept.txt").read_text() == "kept"


async def test_kill_mid_command_reports_unknown_outcome_and_kills_leftovers(tmp_path):
    project = git_project(tmp_path / "project")
    data = tmp_path / "data"
    data.mkdir()
    marker = unique_sleep()
    command = f"echo started > started.txt; sleep {marker}"
    async with FakeOpenAI([Reply(tool_calls=[Call("execute_command", {"command": command})])]) as fake:
        async with server_process(data, fake, {"HITL_DANGEROUS_TOOLS": ""}) as (process, stub):
            task_id = await start_task(stub, project, "run something long")
            await wait_for(lambda: _read(project / "started.txt"), bool)
            # The server records the command's process group just after
            # spawning it; under load the shell can write first.
            await wait_for(_tracked(data / "commands"), bool)
            kill9(process)
        fake.add(Reply(text="I will check the state first."))
        async with running(restarted_settings(data, fake, hitl_dangerous_tools=())) as runtime:
            task = await wait_done(runtime, task_id)
            assert task.status == "completed"
            told = fake.requests[-1]["messages"][-1]
            assert told["role"] == "tool" and "server restarted while execute_command ran" in told["content"]
            # The command did not outlive the server.
            assert not host_processes(marker)


async def test_shutdown_mid_run_resumes_on_next_start(tmp_path):
    project = git_project(tmp_path / "project")
    data = tmp_path / "data"
    async with FakeOpenAI([Reply(text="slow", delay=30)]) as fake:
        async with running(restarted_settings(data, fake)) as runtime:
            session = await runtime.agents.projects.create_project_session("s", str(project))
            task = await runtime.agents.tasks.create_task(session.session.session_id, "slow task", owner="t")
            await wait_for(lambda: _count(fake), lambda n: n == 1)
        fake.add(Reply(text="done"))
        async with running(restarted_settings(data, fake)) as runtime:
            done = await wait_done(runtime, task.task_id)
            assert done.status == "completed" and done.result_summary == "done"


async def _count(fake):
    return len(fake.requests)


async def _read(path):
    return path.read_text().strip() if path.exists() else ""


def _tracked(commands_dir):
    async def check() -> bool:
        return commands_dir.is_dir() and any(path.read_text().strip() for path in commands_dir.iterdir())

    return check


async def test_an_approval_left_pending_by_a_stopped_server_expires_after_its_restart(tmp_path):
    """A paused run holds no lease and, after its server stopped, has no
    waiter: the claims' sweep expires its approval, which makes the task
    runnable, and the run goes on with the rejection."""
    project = git_project(tmp_path / "project")
    data = tmp_path / "data"
    limits = {"approval_timeout_seconds": 2.0, "run_lease_seconds": 1.5}
    async with FakeOpenAI([Reply(tool_calls=[Call("write_file", {"path": "late.txt", "content": "late"})])]) as fake:
        async with running(restarted_settings(data, fake, **limits)) as runtime:
            session = await runtime.agents.projects.create_project_session("s", str(project))
            task = await runtime.agents.tasks.create_task(session.session.session_id, "write late.txt", owner="t")
            await wait_for(lambda: runtime.agents.tasks.list_approvals(task.task_id, "pending"), lambda found: len(found) == 1)
        fake.add(Reply(text="Nobody approved; nothing written."))
        async with running(restarted_settings(data, fake, **limits)) as runtime:
            done = await wait_done(runtime, task.task_id)
            assert done.status == "completed" and not (project / "late.txt").exists()
            [expired] = await runtime.agents.tasks.list_approvals(task.task_id)
            assert expired.status == "expired"
