"""The agent domain: project sessions, tasks, approvals, artifacts, input,
run-event streams, and the LLM model/provider listings. The servicer calls
these methods; the run itself is AgentRunner's."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import uuid
from typing import Any, AsyncIterator

from agent_runtime.config import AgentsConfig
from agent_runtime.agents.approvals import PLAN_TOOL, check_decision
from agent_runtime.agents.models import (
    ACCEPTED,
    DECISIONS,
    PENDING,
    PLAN_DECISIONS,
    TERMINAL_STATUSES,
    WAITING_APPROVAL,
    ApprovalRecord,
    ArtifactRecord,
    ClientTool,
    HitlSettings,
    TaskEventRecord,
    TaskRecord,
)
from agent_runtime.agents.catalog import AGENT_TYPES_BY_NAME
from agent_runtime.agents.runner import AgentRunner, git_output, head_commit, system_prompt
from agent_runtime.llm.base import ChatMessage
from agent_runtime.agents.switching import SWITCH_TOOL, AgentSwitcher, agent_type as check_agent_type
from agent_runtime.storage.sqlite.multiagent import SessionAgentRecord
from agent_runtime.clock import Clock, iso, utc_now
from agent_runtime.errors import Conflict, InvalidArgument, NotFound, PayloadTooLarge, ValidationFailed
from agent_runtime.events.bus import EventBus
from agent_runtime.identity.ownership import owner_scope, task_owner
from agent_runtime.identity.projects import ProjectDirectories
from agent_runtime.interceptors.auth import Principal
from agent_runtime.llm.base import ModelInfo, ProviderInfo
from agent_runtime.llm.registry import ProviderRegistry
from agent_runtime.sessions.models import SessionRecord
from agent_runtime.sessions.service import SessionService
from agent_runtime.storage.sqlite.agents import AgentRepository
from agent_runtime.tools.builtin import BUILTIN_TOOLS

MAX_DESCRIPTION = 100_000
MAX_INPUT = 100_000
MAX_METADATA = 64 * 1024
MAX_ITERATIONS_LIMIT = 1000
REPLAY_PAGE = 500
MAX_CLIENT_TOOLS = 32
MAX_TOOL_DESCRIPTION = 2000
# OpenAI's rule for function names, which every provider accepts.
TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


@dataclasses.dataclass
class ProviderListing:
    info: ProviderInfo
    models_count: int


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


@dataclasses.dataclass
class ProjectSessionView:
    session: SessionRecord
    task_count: int
    tasks: list[TaskRecord]


def task_not_found(task_id: str) -> NotFound:
    return NotFound(f"Task {task_id} not found", code="TASK_NOT_FOUND")


# How long a watcher of a task that has just ended waits for its final events.
FINAL_EVENTS_GRACE_SECONDS = 5.0


class AgentService:
    def __init__(
        self,
        repository: AgentRepository,
        sessions: SessionService,
        registry: ProviderRegistry,
        runner: AgentRunner,
        bus: EventBus[TaskEventRecord],
        config: AgentsConfig,
        *,
        directories: ProjectDirectories,
        clock: Clock = utc_now,
        switcher: AgentSwitcher | None = None,
    ):
        self._repo = repository
        self._sessions = sessions
        self._registry = registry
        self._runner = runner
        self._bus = bus
        self._config = config
        self._directories = directories
        self._clock = clock
        self._switcher = switcher
        self._approvals = runner.approvals

    def _now(self) -> str:
        return iso(self._clock())

    # Models and providers

    async def list_models(self, provider: str = "") -> list[ModelInfo]:
        return await self._registry.models(provider)

    async def list_providers(self) -> tuple[list[ProviderListing], str]:
        providers = self._registry.providers
        counts = await asyncio.gather(*(p.list_models() for p in providers))
        listings = [ProviderListing(p.info, len(models)) for p, models in zip(providers, counts)]
        return listings, await self._registry.default_model()

    # Project sessions

    async def _fresh_workspace(self) -> str:
        """A new, empty git repository under the data dir, for work that
        names no project: agents need somewhere to work, and the changes
        come back as diff.patch. Absolute, as tasks require, also with a
        relative data dir (the default `./data`)."""
        workspace = self._directories.new_workspace_path()
        workspace.mkdir(parents=True)
        await git_output(self._runner.sandbox, str(workspace), "init", "-q")
        return str(workspace)

    async def create_project_session(self, name: str, working_directory: str, *, owner: str | None = None) -> ProjectSessionView:
        """A mini-devin session working in `working_directory`, or, without
        one, in a fresh workspace (which any user may have)."""
        if not name.strip():
            raise ValidationFailed("name is required", fields={"name": "required"})
        if working_directory:
            self._directories.choose(working_directory, owner=owner)
        else:
            working_directory = await self._fresh_workspace()
        session = await self._sessions.create_session(
            str(uuid.uuid4()), name, project_dir=working_directory, agent_name="coder", owner=owner
        )
        return ProjectSessionView(session, 0, [])

    async def list_project_sessions(self, *, scope: str | None = None) -> list[ProjectSessionView]:
        sessions = await self._sessions.list_sessions(scope=scope)
        counts = await self._repo.task_counts()
        return [ProjectSessionView(s, counts.get(s.session_id, 0), []) for s in sessions]

    async def get_project_session(self, session_id: str, *, scope: str | None = None) -> ProjectSessionView:
        session = await self._sessions.get_session(session_id, scope=scope)
        tasks = await self._repo.list_tasks(session_id)
        return ProjectSessionView(session, len(tasks), tasks)

    async def delete_project_session(self, session_id: str, *, scope: str | None = None) -> None:
        await self._sessions.get_session(session_id, scope=scope)
        for task in await self._repo.list_tasks(session_id):
            if task.status not in TERMINAL_STATUSES:
                await self.stop_task(task.task_id)
        await self._sessions.delete_session(session_id)

    # Tasks

    async def create_task(
        self,
        session_id: str,
        description: str,
        *,
        owner: str,
        scope: str | None = None,
        model: str = "",
        run_mode: str = "",
        max_iterations: int = 0,
        tools: list[str] | None = None,
        context: dict[str, str] | None = None,
        agent_type: str = "",
        history: list[dict[str, Any]] | None = None,
    ) -> TaskRecord:
        """Creates a task and starts its run. `history` (codelab messages) is
        the conversation so far, without system prompt and new message."""
        if not description.strip():
            raise ValidationFailed("description is required", fields={"description": "required"})
        if len(description) > MAX_DESCRIPTION:
            raise ValidationFailed(f"description is longer than {MAX_DESCRIPTION} characters", fields={"description": "too long"})
        if agent_type and agent_type not in AGENT_TYPES_BY_NAME:
            raise ValidationFailed(
                f"agent_type must be one of {', '.join(AGENT_TYPES_BY_NAME)}", fields={"agent_type": "unknown agent type"}
            )
        if not 0 <= max_iterations <= MAX_ITERATIONS_LIMIT:
            raise ValidationFailed(
                f"max_iterations must be between 1 and {MAX_ITERATIONS_LIMIT}", fields={"max_iterations": "out of range"}
            )
        session = await self._sessions.get_session(session_id, scope=scope)
        if not session.project_dir:
            raise ValidationFailed(
                f"session {session_id} has no working directory; create it with POST /api/sessions",
                fields={"session_id": "no working_directory"},
            )
        directory = self._directories.for_run(session.project_dir, owner=session.owner_id)
        now = self._now()
        task = TaskRecord(
            task_id=str(uuid.uuid4()),
            session_id=session_id,
            owner=owner,
            description=description,
            working_directory=directory,
            status=ACCEPTED,
            max_iterations=max_iterations or self._config.max_iterations,
            created_at=now,
            updated_at=now,
            model=model,
            run_mode=run_mode,
            tools=[t for t in (tools or []) if t in BUILTIN_TOOLS],
            context=dict(context or {}),
            agent_type=agent_type or "coder",
            base_commit=await head_commit(self._runner.sandbox, directory),
        )
        messages: list[dict[str, Any]] = []
        if history is not None:
            messages = [
                ChatMessage("system", system_prompt(task.agent_type, directory)).to_dict(),
                *history,
                ChatMessage("user", description).to_dict(),
            ]
        await self._repo.create_task(task, messages)
        await self._runner.emit(task.task_id, "status", status=ACCEPTED, message="Task accepted")
        self._runner.submit(task.task_id)
        # Let the run take its slot, so the answer says `running` (or `queued`).
        await asyncio.sleep(0)
        for _ in range(20):
            current = await self._repo.get_task(task.task_id)
            if current is None or current.status != ACCEPTED:
                break
            await asyncio.sleep(0.005)
        return current or task

    async def execute_task(
        self, prompt: str, context: dict[str, str], tools: list[str], *, owner: str, session_owner: str | None = None
    ) -> TaskRecord:
        """agent-runtime-devin ExecuteTask: a task in a session of its own, in
        context["working_directory"] (or a fresh workspace)."""
        if not prompt.strip():
            raise InvalidArgument("prompt is required: say what the agent should do")
        chosen = context.get("working_directory") or context.get("project_dir")
        if chosen:
            self._directories.choose(chosen, owner=session_owner, field="context.working_directory")
            directory = chosen
        else:
            # The operator's DEFAULT_WORKSPACE, else a fresh one.
            directory = self._directories.default_workspace or await self._fresh_workspace()
        session = await self._sessions.create_session(
            f"task-{uuid.uuid4()}",
            prompt.strip().splitlines()[0][:80],
            project_dir=directory,
            agent_name="coder",
            owner=session_owner,
        )
        return await self.create_task(
            session.session_id, prompt, owner=owner, model=context.get("model", ""), tools=tools, context=context
        )

    async def get_task(self, task_id: str) -> TaskRecord:
        task = await self._repo.get_task(task_id)
        if task is None:
            raise task_not_found(task_id)
        return task

    async def check_access(self, task_id: str, viewer: Principal) -> TaskRecord:
        """The task, if `viewer` may see it: its owner or an admin. Anyone
        else gets the same 404 as for a task that does not exist."""
        task = await self.get_task(task_id)
        if not viewer.admin and task.owner != task_owner(viewer):
            raise task_not_found(task_id)
        return task

    async def list_tasks(self, session_id: str, viewer: Principal | None = None) -> list[TaskRecord]:
        await self._sessions.get_session(session_id, scope=owner_scope(viewer) if viewer is not None else None)
        tasks = await self._repo.list_tasks(session_id)
        if viewer is not None and not viewer.admin:
            tasks = [t for t in tasks if t.owner == task_owner(viewer)]
        return tasks

    async def stop_task(self, task_id: str) -> TaskRecord:
        task = await self.get_task(task_id)
        if task.status in TERMINAL_STATUSES:
            return task
        await self._repo.update_task(task_id, {"stop_requested": True, "updated_at": self._now()})
        await self._runner.stop(task_id)
        return await self.get_task(task_id)

    async def send_input(self, task_id: str, content: str) -> None:
        if not content.strip():
            raise InvalidArgument("content is required")
        if len(content) > MAX_INPUT:
            raise InvalidArgument(f"content is longer than {MAX_INPUT} characters")
        task = await self.get_task(task_id)
        if task.status in TERMINAL_STATUSES:
            raise Conflict(f"Task {task_id} already ended ({task.status}); input is no longer read", code="TASK_ENDED")
        await self._repo.add_input(task_id, content, self._now())
        self._runner.wake(task_id)

    # Approvals

    async def list_approvals(self, task_id: str, status: str = "") -> list[ApprovalRecord]:
        await self.get_task(task_id)
        return await self._repo.list_approvals(task_id, status)

    async def decide_approval(
        self, task_id: str, approval_id: str, decision: str, modified_arguments: dict[str, Any] | None, feedback: str
    ) -> ApprovalRecord:
        check_decision(decision, modified_arguments)
        approval = await self._repo.get_approval(approval_id)
        if approval is None or approval.task_id != task_id:
            raise NotFound(f"Approval {approval_id} of task {task_id} not found", code="APPROVAL_NOT_FOUND")
        resolved = await self._approvals.decide(approval, decision, modified_arguments, feedback)
        self._runner.wake(task_id)
        return resolved

    async def pending_approvals(self, session_id: str, *, scope: str | None = None) -> list[ApprovalRecord]:
        """What the session's runs wait on a human for (tool calls and
        plans), oldest first; stored, so a client restores them after
        reconnecting."""
        await self._sessions.get_session(session_id, scope=scope)
        return await self._approvals.pending_in_session(session_id)

    async def hitl_decision(
        self, session_id: str, reply: MessageReply, *, scope: str | None = None, plan_only: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        """Decides the session's approval of tool call `reply.call_id` and
        yields the run's continuation as codelab stream events until it
        pauses again or ends. With `plan_only` (a `plan_decision`), the
        approval is the plan's and `call_id` may be left out."""
        check_decision(reply.decision, reply.modified_arguments, allowed=PLAN_DECISIONS if plan_only else tuple(DECISIONS))
        await self._sessions.get_session(session_id, scope=scope)
        if reply.call_id:
            approval = await self._approvals.find_in_session(session_id, reply.call_id)
            if plan_only and approval.tool_name != PLAN_TOOL:
                raise InvalidArgument(
                    f"call_id {reply.call_id} is a {approval.tool_name} call, not a plan; decide it with a hitl_decision",
                    code="INVALID_DECISION",
                )
        elif plan_only:
            plans = [a for a in await self._approvals.pending_in_session(session_id) if a.tool_name == PLAN_TOOL]
            if not plans:
                raise NotFound(f"Session {session_id} has no plan waiting for approval", code="APPROVAL_NOT_FOUND")
            approval = plans[-1]
        else:
            raise InvalidArgument("call_id is required: the tool call to decide (see GET /sessions/{session_id}/pending-approvals)")
        task = await self.get_task(approval.task_id)
        after = task.last_event_sequence
        await self._approvals.decide(approval, reply.decision, reply.modified_arguments, reply.feedback)
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
        calls = await self._repo.session_client_calls(session_id, reply.call_id)
        if not calls:
            raise NotFound(f"No client tool call {reply.call_id!r} in session {session_id}", code="TOOL_CALL_NOT_FOUND")
        call = calls[-1]
        task = await self.get_task(call.task_id)
        after = task.last_event_sequence
        if call.status != PENDING or task.status in TERMINAL_STATUSES or not await self._repo.answer_client_call(
            call.task_id, call.call_id, output, bool(reply.error), self._now()
        ):
            raise Conflict(f"Tool call {reply.call_id} already has its result (or expired unanswered after APPROVAL_TIMEOUT_SECONDS), or its run ended", code="TOOL_RESULT_ALREADY_GIVEN")
        self._runner.wake(task.task_id)
        async for event in self._run_stream(task.task_id, after):
            yield event

    # Multi-agent sessions

    @property
    def switcher(self) -> AgentSwitcher:
        if self._switcher is None:
            raise RuntimeError("AgentService was built without an AgentSwitcher")
        return self._switcher

    async def current_agent(self, session_id: str, *, scope: str | None = None) -> SessionAgentRecord:
        await self._sessions.get_session(session_id, scope=scope)
        return await self.switcher.current(session_id)

    # Codelab sessions (`/api/v1/sessions`)

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
            directory = await self._fresh_workspace()
        else:
            if not isinstance(project_path, str):
                raise ValidationFailed("metadata.project_path must be a string", fields={"metadata.project_path": "must be a string"})
            self._directories.choose(project_path, owner=owner, field="metadata.project_path")
        session = await self._sessions.create_session(
            str(uuid.uuid4()), f"codelab session of {user_id}"[:256], project_dir=directory, agent_name=self._config.default_agent, owner=owner
        )
        await self.switcher.repository.put_profile(session.session_id, user_id, metadata, hitl)
        return CodelabSession(session, user_id, metadata)

    async def get_codelab_session(self, session_id: str, *, scope: str | None = None) -> CodelabSession:
        session = await self._sessions.get_session(session_id, scope=scope)
        profile = await self.switcher.repository.get_profile(session_id)
        user_id, metadata = profile if profile else (session.owner_id or "", {})
        return CodelabSession(session, user_id, metadata)

    async def delete_codelab_session(self, session_id: str, *, scope: str | None = None) -> None:
        """Stops the session's runs, then deletes it with its tasks, events
        and agent history."""
        await self._sessions.get_session(session_id, scope=scope)
        for task in await self._repo.list_tasks(session_id):
            if task.status not in TERMINAL_STATUSES:
                await self.stop_task(task.task_id)
        await self._sessions.delete_session(session_id, scope=scope)

    # Codelab message stream (`POST /agent/message/stream`)

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
        tasks = await self._repo.list_tasks(session_id)
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
            history = [m for m in await self._repo.list_messages(finished[-1].task_id) if m.get("role") != "system"]
        task = await self.create_task(session_id, content, owner=owner, agent_type=current, history=history)
        async for event in self._run_stream(task.task_id, 0):
            yield event

    async def resume_stream(self, task_id: str, after_sequence: int, viewer: Principal) -> AsyncIterator[dict[str, Any]]:
        """The codelab stream of a run the viewer may see, after the
        `sequence` the client got last: a client whose stream broke
        re-attaches without losing an event."""
        task = await self.check_access(task_id, viewer)
        if task.status in TERMINAL_STATUSES and 0 < task.last_event_sequence <= after_sequence:
            [last] = await self._repo.list_events(task_id, task.last_event_sequence - 1, 1)
            if _is_terminal(last):
                # The client had it all: it still learns how the run ended.
                yield {"type": "done", "status": task.status, "task_id": task_id, "sequence": last.sequence}
                return
        async for event in self._run_stream(task_id, after_sequence):
            yield event

    async def _run_stream(self, task_id: str, after_sequence: int) -> AsyncIterator[dict[str, Any]]:
        """A run's events after the cursor as codelab stream events, up to
        its `done`: the end of the run, or a pause for a human or client.
        Each carries the `sequence` of its run event, to resume after."""
        async for event in self.watch(task_id, after_sequence):
            for converted in stream_events(event):
                converted["sequence"] = event.sequence
                yield converted
                if converted["type"] == "done":
                    return

    async def _busy_reason(self, session_id: str, task: TaskRecord) -> str:
        if task.status == WAITING_APPROVAL:
            pending = await self._approvals.pending_in_session(session_id)
            if pending:
                kind = "plan_decision" if pending[0].tool_name == PLAN_TOOL else "hitl_decision"
                return (
                    f"session {session_id} waits for a decision on call_id {pending[0].call_id} ({pending[0].tool_name}); "
                    f"answer with a {kind} message or POST /sessions/{session_id}/hitl-decision"
                )
            calls = [c for c in await self._repo.session_client_calls(session_id) if c.status == PENDING]
            if calls:
                return (
                    f"session {session_id} waits for the client's result of call_id {calls[0].call_id} ({calls[0].tool_name}); "
                    "answer with a tool_result message"
                )
        return f"session {session_id} is still running task {task.task_id}; send the next message after its `done` event"

    # Artifacts

    async def list_artifacts(self, task_id: str) -> list[ArtifactRecord]:
        await self.get_task(task_id)
        return await self._repo.list_artifacts(task_id)

    async def get_artifact(self, task_id: str, artifact_id: str) -> ArtifactRecord:
        await self.get_task(task_id)
        artifact = await self._repo.get_artifact(task_id, artifact_id)
        if artifact is None:
            raise NotFound(f"Artifact {artifact_id} of task {task_id} not found", code="ARTIFACT_NOT_FOUND")
        return artifact

    # Live stream

    async def watch(self, task_id: str, after_sequence: int = 0) -> AsyncIterator[TaskEventRecord]:
        """Stored events after the cursor, then live ones, until the task's
        terminal status event. Subscribes before reading storage and skips
        duplicates by sequence, so nothing is missed."""
        if after_sequence < 0:
            raise InvalidArgument("after_sequence must not be negative")
        await self.get_task(task_id)
        subscription = self._bus.subscribe(lambda event: event.task_id == task_id)
        last = after_sequence
        try:
            while True:
                while True:
                    page = await self._repo.list_events(task_id, last, REPLAY_PAGE)
                    for event in page:
                        last = event.sequence
                        yield event
                        if _is_terminal(event):
                            return
                    if len(page) < REPLAY_PAGE:
                        break
                task = await self._repo.get_task(task_id)
                if task is None:
                    return
                # A task's status turns terminal just before its final events
                # are written: wait a moment for them instead of ending early.
                finishing = task.status in TERMINAL_STATUSES and task.last_event_sequence <= last
                while True:
                    try:
                        event = await asyncio.wait_for(subscription.get(), FINAL_EVENTS_GRACE_SECONDS if finishing else None)
                    except asyncio.TimeoutError:
                        return
                    if event is None:
                        subscription.reset()
                        break
                    if event.sequence <= last:
                        continue
                    if event.sequence > last + 1:
                        # Missed something (published before we subscribed):
                        # reread storage from where we are.
                        break
                    last = event.sequence
                    yield event
                    if _is_terminal(event):
                        return
        finally:
            subscription.close()


MESSAGE_TYPES = ("user_message", "switch_agent", "hitl_decision", "plan_decision", "tool_result")


def check_client_tools(tools: list[ClientTool]) -> None:
    """Client tools are offered to the model beside the built-in ones:
    valid function names, none taken, each described, object parameters."""
    if len(tools) > MAX_CLIENT_TOOLS:
        raise ValidationFailed(f"at most {MAX_CLIENT_TOOLS} client_tools", fields={"client_tools": "too many"})
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        field = f"client_tools[{index}]"
        if not TOOL_NAME.match(tool.name):
            raise ValidationFailed(
                f"{field}.name must be 1-64 letters, digits, _ or -, starting with a letter or _; got {tool.name!r}",
                fields={f"{field}.name": "invalid"},
            )
        if tool.name in BUILTIN_TOOLS or tool.name == SWITCH_TOOL or tool.name in seen:
            raise ValidationFailed(
                f"{field}.name {tool.name!r} is taken (a built-in tool or another client tool)", fields={f"{field}.name": "taken"}
            )
        seen.add(tool.name)
        if not tool.description.strip() or len(tool.description) > MAX_TOOL_DESCRIPTION:
            raise ValidationFailed(
                f"{field}.description is required (at most {MAX_TOOL_DESCRIPTION} characters): the model reads it",
                fields={f"{field}.description": "required"},
            )
        if tool.parameters.get("type") != "object":
            raise ValidationFailed(
                f'{field}.parameters must be a JSON schema of type "object"', fields={f"{field}.parameters": "must be an object schema"}
            )


def stream_events(event: TaskEventRecord) -> list[dict[str, Any]]:
    """A run event as codelab stream events."""
    body = event.body
    task_id = event.task_id
    if event.type == "token":
        return [{"type": "assistant_message", "token": body.get("content", ""), "is_final": False, "task_id": task_id}]
    if event.type == "tool_call":
        call = {"type": "tool_call", "call_id": body.get("call_id", ""), "tool_name": body.get("tool", ""), "arguments": body.get("input") or {}, "task_id": task_id}
        if body.get("client_side"):
            call["client_side"] = True
        return [call]
    if event.type == "tool_result":
        out = {
            "type": "tool_result",
            "call_id": body.get("call_id", ""),
            "tool_name": body.get("tool", ""),
            "result": body.get("output", ""),
            "success": bool(body.get("success")),
            "task_id": task_id,
        }
        if body.get("code"):
            out["code"] = body["code"]
        return [out]
    if event.type == "agent_switched":
        return [{"type": "agent_switched", "from_agent": body["from_agent"], "to_agent": body["to_agent"], "reason": body["reason"], "task_id": task_id}]
    if event.type in ("approval_required", "plan_approval_required"):
        approval = body.get("approval") or {}
        arguments = body.get("input") or {}
        required = {
            "type": event.type,
            "call_id": body.get("call_id", ""),
            "tool_name": body.get("tool", ""),
            "arguments": arguments,
            "reason": approval.get("reason", ""),
            "approval_id": approval.get("id", ""),
            "task_id": task_id,
        }
        if event.type == "plan_approval_required":
            required["plan"] = {"steps": plan_steps(arguments.get("steps"))}
        return [required]
    if event.type == "status" and body.get("status") == WAITING_APPROVAL:
        # The run paused: this stream ends; the answer continues it.
        paused = {"type": "done", "status": f"waiting_{body.get('waiting_for') or 'approval'}", "task_id": task_id}
        if body.get("call_id"):
            paused["call_id"] = body["call_id"]
        return [paused]
    if event.type == "error":
        return [{"type": "error", "error": body.get("error", ""), "code": body.get("code", "ERROR"), "task_id": task_id}]
    if _is_terminal(event):
        ended = [{"type": "done", "status": body["status"], "task_id": task_id}]
        if body["status"] == "completed":
            ended.insert(0, {"type": "assistant_message", "token": "", "is_final": True, "task_id": task_id})
        return ended
    return []


def plan_steps(steps: Any) -> list[dict[str, str]]:
    """The proposed steps as PlanStep JSON; update_plan numbers steps
    without id and starts them `pending` the same way."""
    if not isinstance(steps, list):
        return []
    return [
        {"id": str(step.get("id") or f"step-{index}"), "description": str(step.get("description", "")), "status": str(step.get("status") or "pending")}
        for index, step in enumerate(steps, 1)
        if isinstance(step, dict)
    ]


def _is_terminal(event: TaskEventRecord) -> bool:
    return event.type == "status" and event.body.get("status") in TERMINAL_STATUSES
