"""Multi-agent sessions: which of the five agents a session runs now, and
switching between them (by the orchestrator's `switch_agent` tool or an
explicit `switch_agent` message), bounded by AGENT_RUNTIME__MAX_AGENT_SWITCHES."""

from __future__ import annotations

from agent_runtime.agents.catalog import AGENT_TYPES_BY_NAME, AgentType
from agent_runtime.config import AgentsConfig
from agent_runtime.clock import Clock, iso, utc_now
from agent_runtime.errors import FailedPrecondition, InvalidArgument
from agent_runtime.sessions.service import SessionService
from agent_runtime.agents.models import AgentSwitchRecord, SessionAgentRecord, SwitchLimitReached
from agent_runtime.agents.ports import AgentSwitchRepository

SWITCH_TOOL = "switch_agent"
MAX_REASON = 2000


def agent_type(name: str) -> AgentType:
    agent = AGENT_TYPES_BY_NAME.get(name)
    if agent is None:
        raise InvalidArgument(f"unknown agent type {name!r}; use one of {', '.join(AGENT_TYPES_BY_NAME)}", code="INVALID_AGENT")
    return agent


class AgentSwitcher:
    def __init__(self, repository: AgentSwitchRepository, sessions: SessionService, config: AgentsConfig, *, clock: Clock = utc_now):
        self._repo = repository
        self._sessions = sessions
        self._config = config
        self._clock = clock

    @property
    def repository(self) -> AgentSwitchRepository:
        return self._repo

    @property
    def config(self) -> AgentsConfig:
        return self._config

    async def current(self, session_id: str) -> SessionAgentRecord:
        """The session's agent state (SESSION_NOT_FOUND for no session)."""
        await self._sessions.get_session(session_id)
        record = await self._repo.get(session_id)
        if record is None:
            return SessionAgentRecord(session_id, self._config.default_agent, None, None, 0, [])
        return record

    async def current_agent(self, session_id: str) -> str:
        record = await self._repo.get(session_id)
        return record.current_agent if record else self._config.default_agent

    async def switch(
        self, session_id: str, to_agent: str, reason: str, *, task_id: str | None = None, from_agent: str | None = None
    ) -> SessionAgentRecord:
        """Switches the session (and the run `task_id`, when given) to
        `to_agent`. FailedPrecondition when multi-agent mode is off or the
        session reached AGENT_RUNTIME__MAX_AGENT_SWITCHES."""
        agent_type(to_agent)
        if len(reason) > MAX_REASON:
            raise InvalidArgument(f"reason is longer than {MAX_REASON} characters")
        if not self._config.multi_agent_enabled:
            raise FailedPrecondition(
                "multi-agent mode is off (AGENT_RUNTIME__MULTI_AGENT_ENABLED=false); the session keeps its agent",
                code="MULTI_AGENT_DISABLED",
            )
        await self._sessions.get_session(session_id)
        switch = AgentSwitchRecord(from_agent or "", to_agent, reason or "no reason given", iso(self._clock()), task_id)
        try:
            return await self._repo.switch(session_id, self._config.default_agent, switch, self._config.max_agent_switches)
        except SwitchLimitReached:
            raise FailedPrecondition(
                f"session {session_id} reached the maximum of {self._config.max_agent_switches} agent switches"
                " (AGENT_RUNTIME__MAX_AGENT_SWITCHES)",
                code="MAX_AGENT_SWITCHES_REACHED",
            ) from None
