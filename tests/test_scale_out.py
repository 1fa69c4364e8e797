"""Runs that move: three `agent-runtime serve` processes on one PostgreSQL.
A run's holder is killed (mid-model-call, mid-tool-call), stopped with
SIGSTOP, or its run pauses for an approval decided on another replica: each
run finishes once, on another process, with contiguous event sequences, and
a client that resumes its stream through another replica sees every event
once. RUN_LEASE_SECONDS is short, so a dead holder's lease expires fast."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import asyncpg
import grpc
import pytest

from agentruntime.v1 import agent_pb2, agent_pb2_grpc
from agent_helpers import git_project, wait_for
from conftest import TEST_API_KEY, grpc_metadata
from llm_fakes import Call, FakeOpenAI, Reply
from ports import free_port
from process_helpers import host_processes, unique_sleep

pytestmark = pytest.mark.slow
ROOT = pathlib.Path(__file__).resolve().parents[1]
META = grpc_metadata()
LEASE_SECONDS = 2
# A lease no test outlives: a run that moves under it moved without waiting
# for an expiry (a released lease, a paused run's lack of one).
NEVER_EXPIRES = "600"
TERMINAL = ("completed", "failed", "stopped")


@dataclasses.dataclass
class Replica:
    process: subprocess.Popen
    log: pathlib.Path
    stub: agent_pb2_grpc.AgentServiceStub

    def log_text(self) -> str:
        return self.log.read_text()


@contextlib.asynccontextmanager
async def replica(data_dir: pathlib.Path, dsn: str, fake: FakeOpenAI, extra_env: dict[str, str], worker: int | None = None):
    """`serve --no-envoy` on a data dir of its own, or (`worker`) the worker
    of that index of `serve --workers N`, started as its pool starts it, on
    a data dir its siblings share."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir / ("server.log" if worker is None else f"worker-{worker}.log")
    env = {
        **os.environ,
        "AGENT_API_KEY": TEST_API_KEY,
        "OPENAI_BASE_URL": fake.base_url,
        "LLM_MAX_RETRIES": "0",
        "DATABASE_URL": dsn,
        "RUN_LEASE_SECONDS": str(LEASE_SECONDS),
        **extra_env,
    }
    with open(log_path, "w") as log:
        if worker is None:
            command = ["serve", "--no-envoy", "--grpc-port", str(port), "--data-dir", str(data_dir)]
            process = subprocess.Popen(
                [sys.executable, "-m", "agent_runtime", *command], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env
            )
        else:
            process = subprocess.Popen(
                [sys.executable, "-m", "agent_runtime.worker"],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
            )
            spec = {
                "index": worker, "data_dir": str(data_dir), "allow_anonymous_local": False,
                "grpc_port": port, "bridge_port": free_port(), "gateway_secret": "shared by the pool",
            }
            process.stdin.write(json.dumps(spec).encode() + b"\n")
            process.stdin.close()
    try:
        deadline = time.monotonic() + 60
        while "ready" not in log_path.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            await asyncio.sleep(0.05)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Replica(process, log_path, agent_pb2_grpc.AgentServiceStub(channel))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.wait()


@contextlib.asynccontextmanager
async def cluster(tmp_path: pathlib.Path, dsn: str, fake: FakeOpenAI, **extra_env: str):
    async with contextlib.AsyncExitStack() as stack:
        replicas = [await stack.enter_async_context(replica(tmp_path / f"replica{n}", dsn, fake, extra_env)) for n in range(3)]
        database = await asyncpg.connect(dsn)
        stack.push_async_callback(database.close)
        try:
            yield replicas, database
        except BaseException:
            # The processes' own account of a failure (pytest shows it).
            for n, member in enumerate(replicas):
                print(f"--- replica{n} (pid {member.process.pid}) ---\n{member.log_text()[-12000:]}")
            raise


async def start_task(stub, project: pathlib.Path, description: str) -> str:
    session = await stub.CreateProjectSession(
        agent_pb2.CreateProjectSessionRequest(name="scale-out", working_directory=str(project)), metadata=META
    )
    task = await stub.CreateAgentTask(agent_pb2.CreateAgentTaskRequest(session_id=session.id, description=description), metadata=META)
    return task.id


async def holder(replicas: list[Replica], database: asyncpg.Connection, task_id: str) -> Replica:
    """The replica whose lease the task has now (its owner id names its pid)."""

    async def owner():
        return await database.fetchval("SELECT lease_owner FROM agent_tasks WHERE task_id = $1", task_id)

    lease_owner = await wait_for(owner, bool, timeout=30)
    [found] = [r for r in replicas if lease_owner.split(":")[-2] == str(r.process.pid)]
    return found


async def stored_events(stub, task_id: str) -> list[agent_pb2.TaskEvent]:
    """The task's events up to its end (the stream closes there)."""
    stream = stub.WatchAgentTask(agent_pb2.WatchAgentTaskRequest(task_id=task_id), metadata=META, timeout=60)
    return [event async for event in stream]


def assert_contiguous_and_ended_once(events: list[agent_pb2.TaskEvent], status: str) -> None:
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert [e.status for e in events if e.type == "status" and e.status in TERMINAL] == [status]


async def test_runs_of_a_killed_holder_finish_on_another_replica(postgres_dsn, tmp_path):
    project = git_project(tmp_path / "project")
    marker = unique_sleep()
    command = f"echo started > started.txt; sleep {marker}"
    # The first model call never answers in time: its holder dies in it.
    async with FakeOpenAI([Reply(text="never told", delay=120)]) as fake:
        async with cluster(tmp_path, postgres_dsn, fake, HITL_DANGEROUS_TOOLS="") as (replicas, database):
            first = replicas[0]
            mid_model = await start_task(first.stub, project, "answer slowly")
            await wait_for(lambda: _requests(fake), lambda n: n == 1)
            dying = await holder(replicas, database, mid_model)
            # A client follows the run through its holder…
            seen = []
            async for event in dying.stub.WatchAgentTask(agent_pb2.WatchAgentTaskRequest(task_id=mid_model), metadata=META):
                seen.append(event)
                if event.type == "status" and event.status == "running":
                    break
            fake.add(Reply(text="Answered after the move."))
            dying.process.kill()
            dying.process.wait()
            survivors = [r for r in replicas if r is not dying]
            # …and resumes through another replica after the last event it saw.
            rest = [
                event
                async for event in survivors[0].stub.WatchAgentTask(
                    agent_pb2.WatchAgentTaskRequest(task_id=mid_model, after_sequence=seen[-1].sequence), metadata=META, timeout=60
                )
            ]
            assert [e.sequence for e in seen + rest] == [e.sequence for e in await stored_events(survivors[1].stub, mid_model)]
            assert_contiguous_and_ended_once(seen + rest, "completed")
            assert rest[-1].message == "Task completed successfully"
            assert any(e.type == "status" and e.message == "Resumed on another server process" for e in rest)

            # A tool call in flight when its holder dies: its effect is
            # unknown, and it is not run again.
            fake.add(Reply(tool_calls=[Call("execute_command", {"command": command}, id="cmd1")]))
            mid_tool = await start_task(survivors[0].stub, project, "run something long")
            await wait_for(lambda: _read(project / "started.txt"), bool)
            dying = await holder(survivors, database, mid_tool)
            fake.add(Reply(text="I will check the state first."))
            dying.process.kill()
            dying.process.wait()
            last = [r for r in survivors if r is not dying][0]
            events = await stored_events(last.stub, mid_tool)
            assert_contiguous_and_ended_once(events, "completed")
            [result] = [e for e in events if e.type == "tool_result"]
            assert not result.success and "its effect is unknown" in result.output
            assert len([e for e in events if e.type == "tool_call"]) == 1
            assert "server restarted while execute_command ran" in fake.requests[-1]["messages"][-1]["content"]
    for pid in host_processes(marker):
        os.kill(pid, signal.SIGKILL)


async def test_a_stopped_holder_cannot_write_after_its_lease_moved_on(postgres_dsn, tmp_path):
    project = git_project(tmp_path / "project")
    answer = asyncio.Event()
    async with FakeOpenAI([Reply(text="stale answer", hold=answer)]) as fake:
        async with cluster(tmp_path, postgres_dsn, fake) as (replicas, database):
            task_id = await start_task(replicas[0].stub, project, "answer")
            await wait_for(lambda: _requests(fake), lambda n: n == 1)
            paused = await holder(replicas, database, task_id)
            fake.add(Reply(text="fresh answer"))
            paused.process.send_signal(signal.SIGSTOP)
            others = [r for r in replicas if r is not paused]
            events = await stored_events(others[0].stub, task_id)
            assert_contiguous_and_ended_once(events, "completed")
            # The stopped holder wakes up with the rest of its model's
            # answer in hand; its lease is gone, so it writes nothing.
            answer.set()
            paused.process.send_signal(signal.SIGCONT)
            await wait_for(lambda: _read_log(paused), lambda text: "lease_lost" in text)
            assert [e.sequence for e in await stored_events(others[1].stub, task_id)] == [e.sequence for e in events]
            task = await others[1].stub.GetAgentTask(agent_pb2.GetAgentTaskRequest(task_id=task_id), metadata=META)
            assert task.status == "completed" and task.result.summary == "fresh answer"
            messages = await database.fetch("SELECT message FROM agent_task_messages WHERE task_id = $1", task_id)
            assert not any("stale answer" in row["message"] for row in messages)


async def test_runs_of_a_holder_that_stops_move_at_once(postgres_dsn, tmp_path):
    project = git_project(tmp_path / "project")
    async with FakeOpenAI([Reply(text="never told", delay=120)]) as fake:
        async with cluster(tmp_path, postgres_dsn, fake, RUN_LEASE_SECONDS=NEVER_EXPIRES) as (replicas, database):
            task_id = await start_task(replicas[0].stub, project, "answer slowly")
            await wait_for(lambda: _requests(fake), lambda n: n == 1)
            stopping = await holder(replicas, database, task_id)
            fake.add(Reply(text="Answered after the move."))
            stopping.process.send_signal(signal.SIGTERM)
            assert stopping.process.wait(timeout=60) == 0
            other = [r for r in replicas if r is not stopping][0]
            events = await stored_events(other.stub, task_id)
            assert_contiguous_and_ended_once(events, "completed")
            assert any(e.type == "status" and e.message == "Resumed on another server process" for e in events)


async def test_an_approval_decided_on_one_replica_resumes_the_run_on_another(postgres_dsn, tmp_path):
    project = git_project(tmp_path / "project")
    async with FakeOpenAI([Reply(tool_calls=[Call("write_file", {"path": "moved.txt", "content": "moved"}, id="w1")])]) as fake:
        async with cluster(tmp_path, postgres_dsn, fake, RUN_LEASE_SECONDS=NEVER_EXPIRES) as (replicas, database):
            first = replicas[0]
            task_id = await start_task(first.stub, project, "write moved.txt")

            async def pending():
                request = agent_pb2.ListToolApprovalsRequest(task_id=task_id, status="pending")
                return (await first.stub.ListToolApprovals(request, metadata=META)).approvals

            [approval] = await wait_for(pending, lambda a: len(a) == 1)
            # A paused run holds no lease: its process may go away.
            await wait_for(lambda: _lease_owner(database, task_id), lambda owner: owner is None)
            first.process.kill()
            first.process.wait()
            fake.add(Reply(text="Wrote moved.txt."))
            await replicas[1].stub.DecideToolApproval(
                agent_pb2.DecideToolApprovalRequest(task_id=task_id, approval_id=approval.id, decision="approve"), metadata=META
            )
            events = await stored_events(replicas[2].stub, task_id)
            assert_contiguous_and_ended_once(events, "completed")
            assert (project / "moved.txt").read_text() == "moved"


async def test_a_stop_on_any_replica_reaches_the_run_where_it_runs(postgres_dsn, tmp_path):
    project = git_project(tmp_path / "project")
    async with FakeOpenAI([Reply(text="never told", delay=120)]) as fake:
        # The stop must not wait for the holder's lease to expire.
        async with cluster(tmp_path, postgres_dsn, fake, RUN_LEASE_SECONDS=NEVER_EXPIRES) as (replicas, database):
            task_id = await start_task(replicas[0].stub, project, "answer slowly")
            await wait_for(lambda: _requests(fake), lambda n: n == 1)
            running_on = await holder(replicas, database, task_id)
            other = [r for r in replicas if r is not running_on][0]
            stopped = await other.stub.StopAgentTask(agent_pb2.StopAgentTaskRequest(task_id=task_id), metadata=META, timeout=60)
            assert stopped.status == "stopped"
            events = await stored_events(other.stub, task_id)
            assert_contiguous_and_ended_once(events, "stopped")
            assert running_on.process.poll() is None


async def test_a_worker_starting_beside_a_busy_sibling_leaves_its_run_and_command_alone(postgres_dsn, tmp_path):
    """Workers of `serve --workers N` share a data dir; a (re)starting worker
    cleans up what its own predecessor left (commands, the runs' leases),
    never what a live sibling holds."""
    project = git_project(tmp_path / "project")
    marker = unique_sleep()
    command = f"echo started > started.txt; sleep {marker}"
    shared = tmp_path / "data"
    env = {"RUN_LEASE_SECONDS": NEVER_EXPIRES, "HITL_DANGEROUS_TOOLS": ""}
    async with FakeOpenAI([Reply(tool_calls=[Call("execute_command", {"command": command}, id="cmd1")])]) as fake:
        async with replica(shared, postgres_dsn, fake, env, worker=0) as busy:
            task_id = await start_task(busy.stub, project, "run something long")
            await wait_for(lambda: _read(project / "started.txt"), bool)
            database = await asyncpg.connect(postgres_dsn)
            try:
                owner = await _lease_owner(database, task_id)
                async with replica(shared, postgres_dsn, fake, env, worker=1):
                    assert host_processes(marker), "the sibling's start killed the running command"
                    assert await _lease_owner(database, task_id) == owner
                fake.add(Reply(text="The command was cut short."))
                for pid in host_processes(marker):
                    # The command's shell ends (and is reaped) once its
                    # sleep is killed.
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                events = await stored_events(busy.stub, task_id)
            finally:
                await database.close()
    assert_contiguous_and_ended_once(events, "completed")
    assert not any(e.type == "status" and e.message == "Resumed on another server process" for e in events)


async def _lease_owner(database: asyncpg.Connection, task_id: str):
    return await database.fetchval("SELECT lease_owner FROM agent_tasks WHERE task_id = $1", task_id)


async def _requests(fake) -> int:
    return len(fake.requests)


async def _read(path: pathlib.Path) -> str:
    return path.read_text().strip() if path.exists() else ""


async def _read_log(replica: Replica) -> str:
    return replica.log_text()
