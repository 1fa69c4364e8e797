"""Run slots are shared fairly (agents/scheduler.py): a per-user cap and
round robin between waiting users. Plain-class tests, then one real run:
a user's trivial run completes while another user has many hanging ones."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from agent_helpers import git_project
from agent_runtime.config import AgentsConfig
from agent_runtime.agents.scheduler import FairScheduler
from conftest import make_settings, running
from llm_fakes import FakeAnthropic, FakeOpenAI, Reply


async def started(scheduler: FairScheduler, user: str, granted: list[str]) -> asyncio.Task:
    async def run():
        await scheduler.acquire(user)
        granted.append(user)

    task = asyncio.create_task(run())
    await asyncio.sleep(0)
    return task


async def test_a_user_never_holds_more_than_the_per_user_cap():
    scheduler = FairScheduler(total=4, per_user=2)
    granted: list[str] = []
    for _ in range(5):
        await started(scheduler, "a", granted)
    assert granted == ["a", "a"] and scheduler.running == 2
    await started(scheduler, "b", granted)
    assert granted[-1] == "b" and scheduler.running_for("b") == 1
    # A slot a frees goes to a's next waiting run.
    scheduler.release("a")
    await asyncio.sleep(0)
    assert granted.count("a") == 3 and scheduler.running_for("a") == 2


async def test_waiting_users_take_turns():
    """Freed slots go round the waiting users (a, b, c, a, b), not down a's
    queue first."""
    scheduler = FairScheduler(total=1, per_user=1)
    granted: list[str] = []
    await started(scheduler, "a", granted)
    for user in ("a", "a", "b", "b", "c"):
        await started(scheduler, user, granted)
    order = []
    for _ in range(5):
        scheduler.release(granted[-1])
        await asyncio.sleep(0)
        order.append(granted[-1])
    assert order == ["a", "b", "c", "a", "b"]


@pytest.mark.parametrize("when", ["while-waiting", "just-before-its-turn", "once-granted"])
async def test_a_cancelled_waiter_passes_its_turn_on(when):
    """A run stopped while it waits for a slot never holds one: the next
    waiting user gets it, however the cancellation and the turn interleave."""
    scheduler = FairScheduler(total=1, per_user=1)
    granted: list[str] = []
    await started(scheduler, "a", granted)
    waiter = await started(scheduler, "b", granted)
    await started(scheduler, "c", granted)
    if when != "once-granted":
        waiter.cancel()
        if when == "while-waiting":
            await asyncio.sleep(0)
    scheduler.release("a")
    if when == "once-granted":
        waiter.cancel()
    for _ in range(3):
        await asyncio.sleep(0)
    assert granted == ["a", "c"] and scheduler.running_for("b") == 0 and scheduler.running == 1


def test_invalid_limits_are_refused(monkeypatch):
    monkeypatch.setenv("MAX_CONCURRENT_RUNS_PER_USER", "3")
    assert AgentsConfig.from_env().runs_per_user == 3
    monkeypatch.setenv("MAX_CONCURRENT_RUNS_PER_USER", "many")
    with pytest.raises(ValueError, match="MAX_CONCURRENT_RUNS_PER_USER"):
        AgentsConfig.from_env()
    with pytest.raises(ValueError):
        FairScheduler(total=0, per_user=1)
    with pytest.raises(ValueError):
        dataclasses.replace(AgentsConfig(), max_concurrent_runs=4, max_concurrent_runs_per_user=5).check()
    assert dataclasses.replace(AgentsConfig(), max_concurrent_runs=8).runs_per_user == 4
    assert dataclasses.replace(AgentsConfig(), max_concurrent_runs=1).runs_per_user == 1


async def test_one_users_hanging_runs_do_not_starve_another_users_run(tmp_path):
    """Alice starts twelve runs whose model never answers; Bob's trivial run
    (on another provider, so the scripts cannot mix) still completes
    (issue 13: it stayed `queued` for good)."""
    project = git_project(tmp_path / "project")
    async with FakeOpenAI() as hanging, FakeAnthropic() as answering:
        llm = {
            "openai_base_url": hanging.base_url,
            "anthropic_api_key": "sk-ant-test",
            "anthropic_base_url": answering.base_url,
            "max_retries": 0,
            "timeout_seconds": 600,
            "total_timeout_seconds": 600,
        }
        settings = make_settings(tmp_path / "data", llm=llm, agents={"max_concurrent_runs": 4}, server={"run_envoy": False})
        async with running(settings) as runtime:
            agents = runtime.agents
            session = (await agents.projects.create_project_session("fair", str(project))).session.session_id
            hanging.add(*[Reply(text="never", delay=600) for _ in range(12)])
            answering.add(Reply(text="bob done"))
            alice = [await agents.tasks.create_task(session, f"hang {n}", owner="alice", model="gpt-4o") for n in range(12)]
            bob = await agents.tasks.create_task(session, "trivial", owner="bob", model="anthropic/claude-scripted")
            for _ in range(200):
                current = await agents.tasks.get_task(bob.task_id)
                if current.status == "completed":
                    break
                await asyncio.sleep(0.05)
            assert current.status == "completed" and current.result_summary == "bob done", current.status
            statuses = [(await agents.tasks.get_task(t.task_id)).status for t in alice]
            assert statuses.count("running") == settings.agents.runs_per_user and statuses.count("queued") == 12 - settings.agents.runs_per_user
            for task in alice:
                await agents.tasks.stop_task(task.task_id)
