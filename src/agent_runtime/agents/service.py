"""The agent domain as the servicer sees it, one part per concern: tasks,
project sessions (mini-devin), codelab sessions, the model listings and the
inbox of what waits on a person."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

from agent_runtime.agents.codelab import CodelabSessions
from agent_runtime.agents.inbox import Inbox
from agent_runtime.config import AgentsConfig
from agent_runtime.agents.models import TaskEventRecord, TaskRecord
from agent_runtime.agents.ports import AgentStore
from agent_runtime.agents.project_git import fresh_workspace
from agent_runtime.agents.runner import AgentRunner
from agent_runtime.agents.switching import AgentSwitcher
from agent_runtime.agents.task_service import TaskService
from agent_runtime.clock import Clock, utc_now
from agent_runtime.errors import ValidationFailed
from agent_runtime.events.bus import EventBus
from agent_runtime.identity.projects import ProjectDirectories
from agent_runtime.llm.base import ModelInfo, ProviderInfo
from agent_runtime.llm.registry import ProviderRegistry
from agent_runtime.sessions.models import SessionRecord
from agent_runtime.sessions.service import SessionService
from agent_runtime.tools.containment import Sandbox


@dataclasses.dataclass
class ProviderListing:
    info: ProviderInfo
    models_count: int


@dataclasses.dataclass
class ProjectSessionView:
    session: SessionRecord
    task_count: int
    tasks: list[TaskRecord]


class ModelListings:
    def __init__(self, registry: ProviderRegistry):
        self._registry = registry

    async def list_models(self, provider: str = "") -> list[ModelInfo]:
        return await self._registry.models(provider)

    async def list_providers(self) -> tuple[list[ProviderListing], str]:
        providers = self._registry.providers
        counts = await asyncio.gather(*(p.list_models() for p in providers))
        listings = [ProviderListing(p.info, len(models)) for p, models in zip(providers, counts)]
        return listings, await self._registry.default_model()


class ProjectSessions:
    """mini-devin's sessions: a working directory (or a fresh workspace)
    whose tasks run there."""

    def __init__(
        self, store: AgentStore, sessions: SessionService, tasks: TaskService, *, directories: ProjectDirectories, sandbox: Sandbox
    ):
        self._store = store
        self._sessions = sessions
        self._tasks = tasks
        self._directories = directories
        self._sandbox = sandbox

    async def create_project_session(self, name: str, working_directory: str, *, owner: str | None = None) -> ProjectSessionView:
        """A mini-devin session working in `working_directory`, or, without
        one, in a fresh workspace (which any user may have)."""
        if not name.strip():
            raise ValidationFailed("name is required", fields={"name": "required"})
        if working_directory:
            self._directories.choose(working_directory, owner=owner)
        else:
            working_directory = await fresh_workspace(self._directories, self._sandbox)
        session = await self._sessions.create_session(
            str(uuid.uuid4()), name, project_dir=working_directory, agent_name="coder", owner=owner
        )
        return ProjectSessionView(session, 0, [])

    async def list_project_sessions(self, *, scope: str | None = None) -> list[ProjectSessionView]:
        sessions = await self._sessions.list_sessions(scope=scope)
        counts = await self._store.tasks.task_counts()
        return [ProjectSessionView(s, counts.get(s.session_id, 0), []) for s in sessions]

    async def get_project_session(self, session_id: str, *, scope: str | None = None) -> ProjectSessionView:
        session = await self._sessions.get_session(session_id, scope=scope)
        tasks = await self._store.tasks.list_tasks(session_id)
        return ProjectSessionView(session, len(tasks), tasks)

    async def delete_project_session(self, session_id: str, *, scope: str | None = None) -> None:
        await self._sessions.get_session(session_id, scope=scope)
        await self._tasks.stop_session_tasks(session_id)
        await self._sessions.delete_session(session_id)


@dataclasses.dataclass(frozen=True)
class AgentService:
    tasks: TaskService
    projects: ProjectSessions
    codelab: CodelabSessions
    models: ModelListings
    inbox: Inbox

    @classmethod
    def build(
        cls,
        store: AgentStore,
        sessions: SessionService,
        registry: ProviderRegistry,
        runner: AgentRunner,
        bus: EventBus[TaskEventRecord],
        config: AgentsConfig,
        *,
        directories: ProjectDirectories,
        switcher: AgentSwitcher,
        clock: Clock = utc_now,
    ) -> AgentService:
        tasks = TaskService(store, sessions, runner, bus, config, directories=directories, clock=clock)
        return cls(
            tasks=tasks,
            projects=ProjectSessions(store, sessions, tasks, directories=directories, sandbox=runner.sandbox),
            codelab=CodelabSessions(store, sessions, tasks, runner, switcher, config, directories=directories, clock=clock),
            models=ModelListings(registry),
            inbox=Inbox(store),
        )
