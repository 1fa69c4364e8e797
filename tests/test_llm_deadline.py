"""A model call has a total deadline: a provider that keeps its stream alive
with SSE comments (each read well within LLM_TIMEOUT_SECONDS) and never
answers fails the run with LLM_ERROR at LLM_TOTAL_TIMEOUT_SECONDS, freeing
its run slot, instead of holding it until the run watchdog."""

from __future__ import annotations


import pytest

from agent_runtime.config import LLMSettings
from agent_helpers import git_project, wait_for
from conftest import make_settings, running
from llm_fakes import FakeOpenAI, Reply


async def test_a_stream_kept_alive_without_an_answer_ends_at_the_total_deadline(tmp_path):
    async with FakeOpenAI([Reply(keep_alive_forever=True), Reply(text="the next run gets the slot")]) as fake:
        llm = {"openai_base_url": fake.base_url, "max_retries": 0, "timeout_seconds": 1, "total_timeout_seconds": 2}
        # The watchdog would end it too, much later: not what ends it here.
        agents = {"watchdog_seconds": 600, "max_concurrent_runs": 1}
        async with running(make_settings(tmp_path / "data", llm=llm, agents=agents, server={"run_envoy": False})) as runtime:
            project = git_project(tmp_path / "project")
            session = (await runtime.agents.projects.create_project_session("deadline", str(project))).session.session_id
            hanging = await runtime.agents.tasks.create_task(session, "answer slowly", owner="alice")
            queued = await runtime.agents.tasks.create_task(session, "answer", owner="alice")
            terminal = lambda task: task.status in ("completed", "failed", "stopped")  # noqa: E731
            failed = await wait_for(lambda: runtime.agents.tasks.get_task(hanging.task_id), terminal, timeout=60)
            assert failed.status == "failed" and failed.error_code == "LLM_ERROR", failed
            assert "LLM_TOTAL_TIMEOUT_SECONDS" in failed.result_summary
            # Its slot went to the queued run.
            done = await wait_for(lambda: runtime.agents.tasks.get_task(queued.task_id), terminal, timeout=60)
            assert done.status == "completed", done


@pytest.mark.parametrize("total", [0.5, -1])
def test_the_total_deadline_is_at_least_the_per_read_timeout(total):
    with pytest.raises(ValueError, match="LLM_TOTAL_TIMEOUT_SECONDS must be at least LLM_TIMEOUT_SECONDS"):
        LLMSettings(timeout_seconds=1, total_timeout_seconds=total).check()
