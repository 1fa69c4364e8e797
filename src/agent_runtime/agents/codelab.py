"""Codelab sessions (`/api/v1/sessions`) and their message stream
(`POST /agent/message/stream`): a message runs with the session's current
agent, and answers (`hitl_decision`, `plan_decision`, `tool_result`) continue
the run that waits for them; each yields the run's codelab stream events."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any, AsyncIterator

from agent_runtime.agents.approvals import PLAN_TOOL, check_decision
from agent_runtime.agents.codelab_stream import MESSAGE_TYPES, check_client_tools, stream_events
from agent_runtime.config import AgentsConfig
from agent_runtime.agents.models import (
    ANSWER,
    DECISIONS,
    PENDING,
    PLAN_DECISIONS,
    RESUME,
    TERMINAL_STATUSES,
    WAITING_APPROVAL,
    ApprovalRecord,
    HitlSettings,
    SessionAgentRecord,
    TaskRecord,
)
from agent_runtime.agents.ports import AgentStore
from agent_runtime.agents.project_git import fresh_workspace
from agent_runtime.agents.run_events import is_terminal
from agent_runtime.agents.runner import AgentRunner
from agent_runtime.agents.switching import AgentSwitcher, agent_type as check_agent_type
from agent_runtime.agents.task_service import MAX_DESCRIPTION, MAX_INPUT, TaskService
from agent_runtime.clock import Clock, iso, utc_now
from agent_runtime.errors import Conflict, InvalidArgument, NotFound, PayloadTooLarge, ValidationFailed
from agent_runtime.identity.projects import ProjectDirectories
from agent_runtime.interceptors.auth import Principal
from agent_runtime.sessions.models import SessionRecord
from agent_runtime.sessions.service import SessionService

MAX_METADATA = 64 * 1024


@dataclasses.dataclass
class CodelabSession:
    session: SessionRecord
    user_id: str
    metadata: dict[str, Any]

    @property
    def last_activity(self) -> str:
        return self.session.updated_at


@dataclasses.dataclass
class MessageReply:
    """The fields of a `hitl_decision`, `plan_decision` or `tool_result`
    message: the answer to what a paused run waits for."""

    call_id: str = ""
    decision: str = ""
    modified_arguments: dict[str, Any] | None = None
    feedback: str = ""
    # `tool_result`: what the client's tool returned (any JSON value), or
    # `error` when it failed.
    result: Any = None
    error: str = ""


class CodelabSessions:
    def __init__(
        self,
        store: AgentStore,
        sessions: SessionService,
        tasks: TaskService,
        runner: AgentRunner,
        switcher: AgentSwitcher,
        config: AgentsConfig,
        *,
        directories: ProjectDirectories,
        clock: Clock = utc_now,
    ):
        self._store = store
        self._sessions = sessions
        self._tasks = tasks
        self._runner = runner
        self.switcher = switcher
        self._config = config
        self._directories = directories
        self._clock = clock

    def _now(self) -> str:
        return iso(self._clock())

    async def pending_approvals(self, session_id: str, *, scope: str | None = None) -> list[ApprovalRecord]:
        """What the session's runs wait on a human for (tool calls and
        plans), oldest first; stored, so a client restores them after
        reconnecting."""
        await self._sessions.get_session(session_id, scope=scope)
        return await self._tasks.approvals.pending_in_session(session_id)

    async def hitl_decision(
        self, session_id: str, reply: MessageReply, *, scope: str | None = None, plan_only: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        """Decides the session's approval of tool call `reply.call_id` and
        yields the run's continuation as codelab stream events until it
        pauses again or ends. With `plan_only` (a `plan_decision`), the
        approval is the plan's and `call_id` may be left out."""
        check_decision(reply.decision, reply.modified_arguments, allowed=PLAN_DECISIONS if plan_only else tuple(DECISIONS))
        await self._sessions.get_session(session_id, scope=scope)
        approval = await self._tasks.approvals.to_decide(session_id, reply.call_id, plan_only=plan_only)
        task = await self._tasks.get_task(approval.task_id)
        after = task.last_event_sequence
        await self._tasks.approvals.decide(approval, reply.decision, reply.modified_arguments, reply.feedback, session_id=session_id)
        self._runner.wake(task.task_id)
        async for event in self._run_stream(task.task_id, after):
            yield event

    async def tool_result(self, session_id: str, reply: MessageReply, *, scope: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Hands the client's result of a client-side tool call to the run
        that waits for it and yields the run's continuation."""
        if not reply.call_id:
            raise InvalidArgument("message.call_id is required for a tool_result: the call_id of the tool_call event")
        if reply.result is None and not reply.error:
            raise InvalidArgument("a tool_result needs message.result (what the tool returned) or message.error (why it failed)")
        output = reply.error or (reply.result if isinstance(reply.result, str) else json.dumps(reply.result, ensure_ascii=False))
        if len(output) > MAX_INPUT:
            raise PayloadTooLarge(f"the tool result is longer than {MAX_INPUT} characters", code="CONTEXT_TOO_LARGE")
        await self._sessions.get_session(session_id, scope=scope)
        calls = await self._store.client_calls.session_client_calls(session_id, reply.call_id)
        if not calls:
            raise NotFound(f"No client tool call {reply.call_id!r} in session {session_id}", code="TOOL_CALL_NOT_FOUND")
        call = calls[-1]
        task = await self._tasks.get_task(call.task_id)
        after = task.last_event_sequence
        if call.status != PENDING or task.status in TERMINAL_STATUSES or not await self._store.client_calls.answer_client_call(
            call.task_id, call.call_id, output, bool(reply.error), self._now(), transition=ANSWER, resume=RESUME
        ):
            raise Conflict(f"Tool call {reply.call_id} already has its result (or expired unanswered after APPROVAL_TIMEOUT_SECONDS), or its run ended", code="TOOL_RESULT_ALREADY_GIVEN")
        self._runner.wake(task.task_id)
        async for event in self._run_stream(task.task_id, after):
            yield event

    async def current_agent(self, session_id: str, *, scope: str | None = None) -> SessionAgentRecord:
        await self._sessions.get_session(session_id, scope=scope)
        return await self.switcher.current(session_id)

    async def create_codelab_session(
        self, user_id: str, metadata: dict[str, Any], *, owner: str | None = None, hitl: HitlSettings | None = None
    ) -> CodelabSession:
        """A session for `user_id`; `metadata.project_path` (optional) is the
        project directory its agents work in; `hitl`: tools its client runs
        and whether plans need approval."""
        hitl = hitl or HitlSettings()
        check_client_tools(hitl.client_tools)
        if not user_id.strip():
            raise ValidationFailed("user_id is required", fields={"user_id": "required"})
        if len(user_id) > 256:
            raise ValidationFailed("user_id is longer than 256 characters", fields={"user_id": "too long"})
        if len(json.dumps(metadata, ensure_ascii=False)) > MAX_METADATA:
            raise PayloadTooLarge(f"metadata is larger than {MAX_METADATA} bytes as JSON")
        project_path = metadata.get("project_path")
        directory = project_path
        if project_path is None:
            directory = await fresh_workspace(self._directories, self._runner.sandbox)
        else:
            if not isinstance(project_path, str):
                raise ValidationFailed("metadata.project_path must be a string", fields={"metadata.project_path": "must be a string"})
            self._directories.choose(project_path, owner=owner, field="metadata.project_path")
        session = await self._sessions.create_session(
            str(uuid.uuid4()), f"codelab session of {user_id}"[:256], project_dir=directory, agent_name=self._config.default_agent, owner=owner
        )
        await self._store.switches.put_profile(session.session_id, user_id, metadata, hitl)
        return CodelabSession(session, user_id, metadata)

    async def get_codelab_session(self, session_id: str, *, scope: str | None = None) -> CodelabSession:
        session = await self._sessions.get_session(session_id, scope=scope)
        profile = await self._store.switches.get_profile(session_id)
        user_id, metadata = profile if profile else (session.owner_id or "", {})
        return CodelabSession(session, user_id, metadata)

    async def delete_codelab_session(self, session_id: str, *, scope: str | None = None) -> None:
        """Stops the session's runs, then deletes it with its tasks, events
        and agent history."""
        await self._sessions.get_session(session_id, scope=scope)
        await self._tasks.stop_session_tasks(session_id)
        await self._sessions.delete_session(session_id, scope=scope)

    async def send_message(
        self,
        session_id: str,
        message_type: str,
        content: str,
        agent_type: str = "",
        *,
        owner: str,
        scope: str | None = None,
        reply: MessageReply | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Runs one message of a multi-agent session and yields its codelab
        stream events (`agent_switched`, `assistant_message`, `tool_call`,
        `tool_result`, `approval_required`, `plan_approval_required`,
        `error`, `done`) until the run ends or pauses.

        `user_message` runs `content` with the session's current agent (the
        orchestrator may switch on its own); `switch_agent` switches to
        `agent_type` first and then runs `content`, if any. `hitl_decision`,
        `plan_decision` and `tool_result` answer what the session's paused
        run waits for (`reply`) and continue it. Everything is checked before
        the first event, so bad input is a plain error."""
        if message_type not in MESSAGE_TYPES:
            raise InvalidArgument(
                f"message.type must be one of {', '.join(MESSAGE_TYPES)}; got {message_type!r}", code="INVALID_MESSAGE_TYPE"
            )
        if message_type in ("hitl_decision", "plan_decision"):
            events = self.hitl_decision(session_id, reply or MessageReply(), scope=scope, plan_only=message_type == "plan_decision")
            async for event in events:
                yield event
            return
        if message_type == "tool_result":
            async for event in self.tool_result(session_id, reply or MessageReply(), scope=scope):
                yield event
            return
        if len(content) > MAX_DESCRIPTION:
            raise PayloadTooLarge(f"message.content is longer than {MAX_DESCRIPTION} characters", code="CONTEXT_TOO_LARGE")
        if message_type == "user_message" and not content.strip():
            raise InvalidArgument("message.content is required for a user_message")
        if message_type == "switch_agent":
            if not agent_type:
                raise InvalidArgument("message.agent_type is required for switch_agent")
            check_agent_type(agent_type)
        await self._sessions.get_session(session_id, scope=scope)
        tasks = await self._store.tasks.list_tasks(session_id)
        busy = [t for t in tasks if t.status not in TERMINAL_STATUSES]
        if busy:
            raise Conflict(await self._busy_reason(session_id, busy[0]), code="SESSION_BUSY")
        if message_type == "switch_agent":
            state = await self.switcher.switch(session_id, agent_type, "User requested agent switch")
            last = state.history[-1]
            yield {"type": "agent_switched", "from_agent": last.from_agent, "to_agent": last.to_agent, "reason": last.reason}
            if not content.strip():
                yield {"type": "done", "session_id": session_id}
                return
        current = await self.switcher.current_agent(session_id)
        history: list[dict[str, Any]] = []
        finished = [t for t in tasks if t.status == "completed"]
        if finished:
            # The conversation goes on from the last finished run.
            history = [m for m in await self._store.tasks.list_messages(finished[-1].task_id) if m.get("role") != "system"]
        task = await self._tasks.create_task(session_id, content, owner=owner, agent_type=current, history=history)
        async for event in self._run_stream(task.task_id, 0):
            yield event

    async def resume_stream(self, task_id: str, after_sequence: int, viewer: Principal) -> AsyncIterator[dict[str, Any]]:
        """The codelab stream of a run the viewer may see, after the
        `sequence` the client got last: a client whose stream broke
        re-attaches without losing an event."""
        task = await self._tasks.check_access(task_id, viewer)
        if task.status in TERMINAL_STATUSES and 0 < task.last_event_sequence <= after_sequence:
            [last] = await self._store.tasks.list_events(task_id, task.last_event_sequence - 1, 1)
            if is_terminal(last):
                # The client had it all: it still learns how the run ended.
                yield {"type": "done", "status": task.status, "task_id": task_id, "sequence": last.sequence}
                return
        async for event in self._run_stream(task_id, after_sequence):
            yield event

    async def _run_stream(self, task_id: str, after_sequence: int) -> AsyncIterator[dict[str, Any]]:
        """A run's events after the cursor as codelab stream events, up to
        its `done`: the end of the run, or a pause for a human or client.
        Each carries the `sequence` of its run event, to resume after."""
        async for event in self._tasks.follow(task_id, after_sequence):
            for converted in stream_events(event):
                converted["sequence"] = event.sequence
                yield converted
                if converted["type"] == "done":
                    return

    async def _busy_reason(self, session_id: str, task: TaskRecord) -> str:
        if task.status == WAITING_APPROVAL:
            pending = await self._tasks.approvals.pending_in_session(session_id)
            if pending:
                kind = "plan_decision" if pending[0].tool_name == PLAN_TOOL else "hitl_decision"
                return (
                    f"session {session_id} waits for a decision on call_id {pending[0].call_id} ({pending[0].tool_name}); "
                    f"answer with a {kind} message or POST /sessions/{session_id}/hitl-decision"
                )
            calls = [c for c in await self._store.client_calls.session_client_calls(session_id) if c.status == PENDING]
            if calls:
                return (
                    f"session {session_id} waits for the client's result of call_id {calls[0].call_id} ({calls[0].tool_name}); "
                    "answer with a tool_result message"
                )
        return f"session {session_id} is still running task {task.task_id}; send the next message after its `done` event"
