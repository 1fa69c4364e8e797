"""The agent types' tool sets, enforced in the run loop (codelab
multi-agent): what each type is offered and what is refused when called
anyway. The agents domain of a real server without Envoy; the REST document
of multi-agent sessions (the agents list, the current agent, switches and
the message stream) is test_multiagent.py. The scripted OpenAI-format
server plays the model."""

from __future__ import annotations

import pytest
import pytest_asyncio

from agent_helpers import wait_for
from conftest import make_settings, running
from llm_fakes import Call, Reply
from test_multiagent import TERMINAL, offered, tool_results

OWNER = "alice"


@pytest_asyncio.fixture(scope="module")
async def agents_runtime(tmp_path_factory, fake):
    # No approvals here: these tests are about which calls run at all.
    agents = {"command_timeout_seconds": 5, "hitl_dangerous_tools": ()}
    llm = {"openai_base_url": fake.base_url, "max_retries": 0, "timeout_seconds": 10}
    settings = make_settings(tmp_path_factory.mktemp("data"), llm=llm, agents=agents, server={"run_envoy": False})
    async with running(settings) as started:
        yield started


async def run_task(agents_runtime, project, agent_type, description="do it"):
    session = await agents_runtime.agents.projects.create_project_session("types", str(project))
    tasks = agents_runtime.agents.tasks
    task = await tasks.create_task(session.session.session_id, description, owner=OWNER, agent_type=agent_type)
    return await wait_for(lambda: tasks.get_task(task.task_id), lambda t: t.status in TERMINAL)


async def test_architect_may_write_only_markdown(agents_runtime, fake, project):
    fake.add(
        Reply(tool_calls=[Call("write_file", {"path": "src/auth.py", "content": "x = 1\n"})]),
        Reply(tool_calls=[Call("write_file", {"path": "docs/auth.md", "content": "# Auth\n"})]),
        Reply(text="designed"),
    )
    task = await run_task(agents_runtime, project, "architect")
    assert task.status == "completed", task
    assert not (project / "src" / "auth.py").exists()
    assert (project / "docs" / "auth.md").read_text() == "# Auth\n"
    refused, written = tool_results(fake.requests[-1])
    assert refused.startswith("Error: INVALID_TOOL") and ".md" in refused
    assert "Error" not in written


@pytest.mark.parametrize("agent_type", ["debug", "ask", "orchestrator"])
async def test_read_only_agents_never_write(agents_runtime, fake, project, agent_type):
    fake.add(Reply(tool_calls=[Call("write_file", {"path": "notes.md", "content": "x"})]), Reply(text="cannot"))
    before = len(fake.requests)
    task = await run_task(agents_runtime, project, agent_type)
    assert task.status == "completed"
    assert not (project / "notes.md").exists()
    first, second = fake.requests[before:]
    # Not offered, and refused (not executed) when called anyway.
    assert "write_file" not in offered(first)
    [result] = tool_results(second)
    assert result.startswith("Error: INVALID_TOOL") and "write_file" in result


async def test_debug_runs_commands(agents_runtime, fake, project):
    fake.add(Reply(tool_calls=[Call("execute_command", {"command": "echo probe"})]), Reply(text="found"))
    task = await run_task(agents_runtime, project, "debug")
    assert task.status == "completed"
    [result] = tool_results(fake.requests[-1])
    assert "probe" in result and "INVALID_TOOL" not in result
