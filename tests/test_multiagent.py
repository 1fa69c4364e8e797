"""Multi-agent sessions (codelab) through Envoy: the five agent types as
documented, the orchestrator's switch_agent, the switch limit and the
session's current agent, codelab sessions and their message stream. Each
type's tool set in the run loop is test_agent_types.py (no Envoy). The
scripted OpenAI-format server plays the model."""

from __future__ import annotations


import grpc
import pytest
import pytest_asyncio

from agentruntime.v1 import agent_pb2, agent_pb2_grpc, compute_pb2, compute_pb2_grpc

from agent_runtime.agents.catalog import check_default_agent
from agent_runtime.agents.tool_policy import tools_for
from agent_runtime.config import AgentsConfig
from agent_helpers import codelab_session, git_project, new_session, sse, unsequenced, wait_for
from conftest import grpc_metadata, http_client, make_settings, running
from llm_fakes import Call, Reply

TERMINAL = ("completed", "failed", "stopped")

DOCUMENTED_AGENTS = [
    {
        "type": "orchestrator",
        "name": "Orchestrator Agent",
        "description": "Координатор и маршрутизатор задач",
        "emoji": "🎭",
        "tools": ["read_file", "list_files", "search_in_code"],
        "restrictions": ["Только анализ, без модификации"],
    },
    {
        "type": "coder",
        "name": "Coder Agent",
        "description": "Разработчик кода",
        "emoji": "💻",
        "tools": ["read_file", "write_file", "list_files", "search_in_code", "execute_command", "git_diff", "git_commit", "delete_file"],
        "restrictions": [],
    },
    {
        "type": "architect",
        "name": "Architect Agent",
        "description": "Проектировщик архитектуры",
        "emoji": "🏗️",
        "tools": ["read_file", "write_file", "list_files", "search_in_code"],
        "restrictions": ["Только .md файлы"],
    },
    {
        "type": "debug",
        "name": "Debug Agent",
        "description": "Отладчик и диагност",
        "emoji": "🐛",
        "tools": ["read_file", "list_files", "search_in_code", "execute_command"],
        "restrictions": ["Read-only, без write_file"],
    },
    {
        "type": "ask",
        "name": "Ask Agent",
        "description": "Консультант и учитель",
        "emoji": "💬",
        "tools": ["read_file", "search_in_code", "list_files"],
        "restrictions": ["Только чтение"],
    },
]


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory, fake):
    agents = {
        "command_timeout_seconds": 5,
        # No approvals here: these tests are about which calls run at all.
        "hitl_dangerous_tools": (),
        "max_agent_switches": 2,
    }
    llm = {"openai_base_url": fake.base_url, "max_retries": 0, "timeout_seconds": 10}
    async with running(make_settings(tmp_path_factory.mktemp("data"), llm=llm, agents=agents)) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def http(runtime):
    async with http_client(runtime) as client:
        yield client


async def run_task(http, session_id, agent_type, description="do it"):
    response = await http.post(f"/api/sessions/{session_id}/tasks", json={"description": description, "agent_type": agent_type})
    assert response.status_code == 200, response.text
    task_id = response.json()["id"]

    async def fetch():
        return (await http.get(f"/api/tasks/{task_id}")).json()

    task = await wait_for(fetch, lambda t: t["status"] in TERMINAL)
    return task, task_id


def offered(request) -> list[str]:
    return [tool["function"]["name"] for tool in request.get("tools", [])]


def tool_results(request) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


async def test_agents_list_is_the_documented_one(http):
    response = await http.get("/agents")
    assert response.status_code == 200, response.text
    assert response.json() == {"agents": DOCUMENTED_AGENTS}


async def test_orchestrator_switches_to_coder_and_limit_holds(http, fake, project):
    session_id = await new_session(http, project)
    current = (await http.get(f"/agents/{session_id}/current")).json()
    assert current["current_agent"]["type"] == "orchestrator" and current["switch_count"] == 0
    assert current["switch_history"] == [] and "previous_agent" not in current

    fake.add(
        Reply(tool_calls=[Call("switch_agent", {"agent_type": "coder", "reason": "User requested code implementation"})]),
        Reply(tool_calls=[Call("write_file", {"path": "src/widget.py", "content": "WIDGET = 1\n"})]),
        Reply(text="widget written"),
    )
    before = len(fake.requests)
    task, _ = await run_task(http, session_id, "orchestrator", "Создай новый виджет профиля")
    assert task["status"] == "completed", task
    assert (project / "src" / "widget.py").read_text() == "WIDGET = 1\n"
    as_orchestrator, as_coder, _ = fake.requests[before:]
    assert "switch_agent" in offered(as_orchestrator) and "write_file" not in offered(as_orchestrator)
    assert "write_file" in offered(as_coder) and "switch_agent" not in offered(as_coder)

    current = (await http.get(f"/agents/{session_id}/current")).json()
    assert current["current_agent"]["type"] == "coder" and current["current_agent"]["emoji"] == "💻"
    assert current["current_agent"]["switched_at"]
    assert current["previous_agent"] == {"type": "orchestrator", "name": "Orchestrator Agent", "emoji": "🎭"}
    assert current["switch_count"] == 1
    [switch] = current["switch_history"]
    assert (switch["from_agent"], switch["to_agent"], switch["reason"]) == ("orchestrator", "coder", "User requested code implementation")
    assert switch["timestamp"] == current["current_agent"]["switched_at"]

    # A second orchestrator run in the session uses the last allowed switch
    # (AGENT_RUNTIME__MAX_AGENT_SWITCHES=2 here); the third is refused.
    fake.add(Reply(tool_calls=[Call("switch_agent", {"agent_type": "architect", "reason": "design"})]), Reply(text="ok"))
    await run_task(http, session_id, "orchestrator")
    fake.add(Reply(tool_calls=[Call("switch_agent", {"agent_type": "debug", "reason": "bug"})]), Reply(text="staying"))
    task, _ = await run_task(http, session_id, "orchestrator")
    assert task["status"] == "completed"
    [refused] = tool_results(fake.requests[-1])
    assert "MAX_AGENT_SWITCHES_REACHED" in refused
    current = (await http.get(f"/agents/{session_id}/current")).json()
    assert current["switch_count"] == 2 and current["current_agent"]["type"] == "architect"
    assert [h["to_agent"] for h in current["switch_history"]] == ["coder", "architect"]


async def test_current_agent_errors(http):
    response = await http.get("/agents/no-such-session/current")
    assert response.status_code == 404 and response.json()["code"] == "SESSION_NOT_FOUND"


async def test_unknown_agent_type_is_rejected(http, project):
    session_id = await new_session(http, project)
    response = await http.post(f"/api/sessions/{session_id}/tasks", json={"description": "x", "agent_type": "wizard"})
    assert response.status_code in (400, 422) and "agent_type" in response.text


async def test_switch_history_survives_restart(tmp_path, fake):
    project = git_project(tmp_path / "project")
    llm = {"openai_base_url": fake.base_url, "max_retries": 0}
    settings = make_settings(tmp_path / "data", llm=llm, agents={"hitl_dangerous_tools": ()}, server={"run_envoy": False})
    async with running(settings) as runtime:
        session_id = (await runtime.agents.projects.create_project_session("p", str(project))).session.session_id
        await runtime.agents.codelab.switcher.switch(session_id, "debug", "explicit")
    async with running(settings) as runtime:
        state = await runtime.agents.codelab.current_agent(session_id)
        assert (state.current_agent, state.previous_agent, state.switch_count) == ("debug", "orchestrator", 1)
        assert state.history[0].reason == "explicit"


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("AGENT_RUNTIME__MULTI_AGENT_ENABLED", "false")
    monkeypatch.setenv("AGENT_RUNTIME__DEFAULT_AGENT", "ask")
    monkeypatch.setenv("AGENT_RUNTIME__AUTO_AGENT_SWITCHING", "false")
    monkeypatch.setenv("AGENT_RUNTIME__MAX_AGENT_SWITCHES", "3")
    config = AgentsConfig.from_env()
    config.check()
    check_default_agent(config.default_agent)
    assert (config.multi_agent_enabled, config.default_agent, config.auto_agent_switching, config.max_agent_switches) == (False, "ask", False, 3)
    monkeypatch.setenv("AGENT_RUNTIME__DEFAULT_AGENT", "wizard")
    with pytest.raises(ValueError, match="DEFAULT_AGENT"):
        check_default_agent(AgentsConfig.from_env().default_agent)
    assert "switch_agent" not in tools_for("orchestrator", [], can_switch=False)
    assert "switch_agent" in tools_for("orchestrator", [], can_switch=True)
    assert "switch_agent" not in tools_for("coder", [], can_switch=True)


async def test_switching_off(tmp_path, fake):
    """MULTI_AGENT_ENABLED=false: no switch_agent tool and no switches;
    DEFAULT_AGENT is what a session starts with."""
    project = git_project(tmp_path / "project")
    llm = {"openai_base_url": fake.base_url, "max_retries": 0}
    agents = {"multi_agent_enabled": False, "default_agent": "ask"}
    async with running(make_settings(tmp_path / "data", llm=llm, agents=agents, server={"run_envoy": False})) as runtime:
        session_id = (await runtime.agents.projects.create_project_session("p", str(project))).session.session_id
        assert (await runtime.agents.codelab.current_agent(session_id)).current_agent == "ask"
        async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
            health = await compute_pb2_grpc.ComputeServiceStub(channel).GetHealth(compute_pb2.GetHealthRequest(), metadata=grpc_metadata())
        assert (health.multi_agent.enabled, health.multi_agent.default_agent) == (False, "ask")
        fake.add(Reply(tool_calls=[Call("switch_agent", {"agent_type": "coder", "reason": "r"})]), Reply(text="no"))
        before = len(fake.requests)
        task = await runtime.agents.tasks.create_task(session_id, "route", owner="a", agent_type="orchestrator")
        await wait_for(lambda: runtime.agents.tasks.get_task(task.task_id), lambda t: t.status in TERMINAL)
        first, second = fake.requests[before:]
        assert "switch_agent" not in offered(first)
        assert tool_results(second)[0].startswith("Error: INVALID_TOOL")
        assert (await runtime.agents.codelab.current_agent(session_id)).switch_count == 0
        from agent_runtime.errors import FailedPrecondition

        with pytest.raises(FailedPrecondition):
            await runtime.agents.codelab.switcher.switch(session_id, "coder", "explicit")


async def test_codelab_sessions_create_get_delete(http, project):
    metadata = {"project_path": str(project), "ide": "vscode", "tabs": 3}
    response = await http.post("/api/v1/sessions", json={"user_id": "user_123", "metadata": metadata})
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"session_id", "created_at"}
    session_id = created["session_id"]

    response = await http.get(f"/api/v1/sessions/{session_id}")
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["session_id"] == session_id and found["user_id"] == "user_123"
    assert found["metadata"] == metadata
    assert found["created_at"] == created["created_at"] and found["last_activity"] >= found["created_at"]
    # The same session is a multi-agent one, starting with the default agent.
    current = (await http.get(f"/agents/{session_id}/current")).json()
    assert current["current_agent"]["type"] == "orchestrator"

    response = await http.delete(f"/api/v1/sessions/{session_id}")
    assert response.status_code == 200 and response.json() == {"status": "deleted"}
    for path in (f"/api/v1/sessions/{session_id}", f"/agents/{session_id}/current"):
        response = await http.get(path)
        assert response.status_code == 404 and response.json()["code"] == "SESSION_NOT_FOUND"
    response = await http.delete(f"/api/v1/sessions/{session_id}")
    assert response.status_code == 404


async def test_codelab_session_input_errors(http, tmp_path):
    response = await http.post("/api/v1/sessions", json={"metadata": {}})
    assert response.status_code in (400, 422) and "user_id" in response.text
    response = await http.post("/api/v1/sessions", json={"user_id": "u", "metadata": {"project_path": str(tmp_path / "missing")}})
    assert response.status_code == 422 and "project_path" in response.text
    response = await http.post("/api/v1/sessions", json={"user_id": "u", "metadata": {"project_path": 5}})
    assert response.status_code == 422
    # Without metadata at all: fine, an empty object.
    response = await http.post("/api/v1/sessions", json={"user_id": "u"})
    assert response.status_code == 200
    found = (await http.get(f"/api/v1/sessions/{response.json()['session_id']}")).json()
    assert found["metadata"] == {}


async def test_message_stream_routes_orchestrator_to_coder(http, fake, project):
    session_id = await codelab_session(http, project)
    fake.add(
        Reply(tool_calls=[Call("switch_agent", {"agent_type": "coder", "reason": "User requested code implementation"}, id="c1")]),
        Reply(text="Writing the widget", tool_calls=[Call("write_file", {"path": "lib/profile.dart", "content": "class Profile {}\n"}, id="c2")]),
        Reply(text="Done: profile widget"),
    )
    events = await sse(http, "/agent/message/stream", {"session_id": session_id, "message": {"type": "user_message", "content": "Создай новый виджет профиля"}})
    kinds = [e["type"] for e in events]
    # Each step in order: the switch, the coder's text and write, its
    # result, the final answer, done.
    switched = kinds.index("agent_switched")
    call = kinds.index("tool_call")
    assert switched < kinds.index("assistant_message") < call < kinds.index("tool_result", call) < len(kinds) - 2
    assert unsequenced(events[switched]) | {"task_id": None} == {
        "type": "agent_switched", "from_agent": "orchestrator", "to_agent": "coder",
        "reason": "User requested code implementation", "task_id": None,
    }
    assert events[call]["tool_name"] == "write_file" and events[call]["arguments"]["path"] == "lib/profile.dart"
    written = events[kinds.index("tool_result", call)]
    assert written["success"] is True and written["call_id"] == "c2"
    text = "".join(e["token"] for e in events if e["type"] == "assistant_message")
    assert "Writing the widget" in text and "Done: profile widget" in text
    assert unsequenced(events[-2]) == {"type": "assistant_message", "token": "", "is_final": True, "task_id": events[-1]["task_id"]}
    assert events[-1]["type"] == "done" and events[-1]["status"] == "completed"
    assert (project / "lib" / "profile.dart").read_text() == "class Profile {}\n"
    current = (await http.get(f"/agents/{session_id}/current")).json()
    assert current["current_agent"]["type"] == "coder" and current["switch_count"] == 1

    # The next message continues the conversation with the coder.
    fake.add(Reply(text="It is in lib/profile.dart"))
    events = await sse(http, "/agent/message/stream", {"session_id": session_id, "message": {"type": "user_message", "content": "Where is it?"}})
    assert events[-1]["status"] == "completed"
    sent = fake.requests[-1]
    assert "Coder Agent" in sent["messages"][0]["content"]
    assert [m["content"] for m in sent["messages"] if m["role"] == "user"] == ["Создай новый виджет профиля", "Where is it?"]


async def test_explicit_switch_then_architect_refused_a_python_write(http, fake, project):
    session_id = await codelab_session(http, project)
    fake.add(
        Reply(text="Проектирую архитектуру...", tool_calls=[Call("write_file", {"path": "auth.py", "content": "x"}, id="a1")]),
        Reply(text="ok, markdown only"),
    )
    body = {"session_id": session_id, "message": {"type": "switch_agent", "agent_type": "architect", "content": "Спроектируй архитектуру системы аутентификации"}}
    events = await sse(http, "/agent/message/stream", body)
    assert events[0] == {"type": "agent_switched", "from_agent": "orchestrator", "to_agent": "architect", "reason": "User requested agent switch"}
    assert events[1]["type"] == "assistant_message" and events[1]["is_final"] is False
    [refused] = [e for e in events if e["type"] == "tool_result"]
    assert refused["code"] == "INVALID_TOOL" and refused["success"] is False and ".md" in refused["result"]
    assert not any(e["type"] == "tool_call" for e in events)
    assert not (project / "auth.py").exists()
    assert events[-1]["type"] == "done"
    # A switch without content only switches.
    events = await sse(http, "/agent/message/stream", {"session_id": session_id, "message": {"type": "switch_agent", "agent_type": "debug"}})
    assert [e["type"] for e in events] == ["agent_switched", "done"]
    assert (events[0]["from_agent"], events[0]["to_agent"]) == ("architect", "debug")
    # The module allows two switches; the third is refused before streaming.
    response = await http.post("/agent/message/stream", json={"session_id": session_id, "message": {"type": "switch_agent", "agent_type": "ask"}})
    assert response.status_code == 400 and response.json()["code"] == "MAX_AGENT_SWITCHES_REACHED"


async def test_message_stream_input_errors(http, project):
    session_id = await codelab_session(http, project)
    cases = [
        ({"session_id": "nope", "message": {"type": "user_message", "content": "hi"}}, 404, "SESSION_NOT_FOUND"),
        ({"session_id": session_id, "message": {"type": "shout", "content": "hi"}}, 400, "INVALID_MESSAGE_TYPE"),
        ({"session_id": session_id, "message": {"type": "plan_decision"}}, 400, "INVALID_DECISION"),
        ({"session_id": session_id, "message": {"type": "user_message", "content": " "}}, 400, None),
        ({"session_id": session_id, "message": {"type": "switch_agent", "agent_type": "wizard"}}, 400, "INVALID_AGENT"),
    ]
    for body, status, code in cases:
        response = await http.post("/agent/message/stream", json=body)
        assert response.status_code == status, (body, response.text)
        if code:
            assert response.json()["code"] == code


async def test_message_stream_over_grpc(runtime, fake, project):
    session_id = (await runtime.agents.codelab.create_codelab_session("u", {"project_path": str(project)})).session.session_id
    fake.add(Reply(text="Hello from ask"))
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        request = agent_pb2.SendAgentMessageRequest(
            session_id=session_id, message=agent_pb2.AgentMessage(type="switch_agent", agent_type="ask", content="Explain")
        )
        events = [e async for e in stub.SendAgentMessage(request, metadata=grpc_metadata())]
    assert events[0].type == "agent_switched" and events[0].to_agent == "ask"
    assert "".join(e.token for e in events if e.type == "assistant_message") == "Hello from ask"
    assert events[-2].is_final and events[-1].type == "done" and events[-1].status == "completed"


async def test_health_shows_multi_agent_settings(http):
    body = (await http.get("/health")).json()
    assert body["multi_agent"] == {"enabled": True, "default_agent": "orchestrator", "agents_count": 5}
