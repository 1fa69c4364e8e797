"""Agent tasks: creating one starts its run; reading, stopping, input,
approvals and artifacts of a task; and the live stream of its run events."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, AsyncIterator

from agent_runtime.agents.approvals import ApprovalManager, check_decision
from agent_runtime.agents.catalog import AGENT_TYPES_BY_NAME
from agent_runtime.config import AgentsConfig
from agent_runtime.agents.models import ACCEPTED, TERMINAL_STATUSES, ApprovalRecord, ArtifactRecord, TaskEventRecord, TaskRecord
from agent_runtime.agents.ports import AgentStore
from agent_runtime.agents.project_git import fresh_workspace, head_commit
from agent_runtime.agents.run_events import is_terminal
from agent_runtime.agents.runner import AgentRunner
from agent_runtime.agents.tool_policy import system_prompt
from agent_runtime.clock import Clock, iso, utc_now
from agent_runtime.errors import Conflict, InvalidArgument, NotFound, ValidationFailed
from agent_runtime.events.bus import EventBus
from agent_runtime.identity.ownership import owner_scope, task_owner
from agent_runtime.identity.projects import ProjectDirectories
from agent_runtime.interceptors.auth import Principal
from agent_runtime.llm.base import ChatMessage
from agent_runtime.sessions.service import SessionService
from agent_runtime.tools.builtin import BUILTIN_TOOLS

MAX_DESCRIPTION = 100_000
MAX_INPUT = 100_000
MAX_ITERATIONS_LIMIT = 1000
REPLAY_PAGE = 500
# How long a watcher of a task that has just ended waits for its final events.
FINAL_EVENTS_GRACE_SECONDS = 5.0


def task_not_found(task_id: str) -> NotFound:
    return NotFound(f"Task {task_id} not found", code="TASK_NOT_FOUND")


class TaskService:
    def __init__(
        self,
        store: AgentStore,
        sessions: SessionService,
        runner: AgentRunner,
        bus: EventBus[TaskEventRecord],
        config: AgentsConfig,
        *,
        directories: ProjectDirectories,
        clock: Clock = utc_now,
    ):
        self._store = store
        self._tasks = store.tasks
        self._sessions = sessions
        self._runner = runner
        self._bus = bus
        self._config = config
        self._directories = directories
        self._clock = clock

    @property
    def approvals(self) -> ApprovalManager:
        return self._runner.approvals

    def _now(self) -> str:
        return iso(self._clock())

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
        await self._tasks.create_task(task, messages)
        await self._runner.accept(task.task_id)
        # Let the run take its slot, so the answer says `running` (or `queued`).
        await asyncio.sleep(0)
        for _ in range(20):
            current = await self._tasks.get_task(task.task_id)
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
            directory = self._directories.default_workspace or await fresh_workspace(self._directories, self._runner.sandbox)
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
        task = await self._tasks.get_task(task_id)
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
        tasks = await self._tasks.list_tasks(session_id)
        if viewer is not None and not viewer.admin:
            tasks = [t for t in tasks if t.owner == task_owner(viewer)]
        return tasks

    async def stop_task(self, task_id: str) -> TaskRecord:
        task = await self.get_task(task_id)
        if task.status in TERMINAL_STATUSES:
            return task
        await self._tasks.update_task(task_id, {"stop_requested": True, "updated_at": self._now()})
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
        await self._tasks.add_input(task_id, content, self._now())
        self._runner.wake(task_id)

    async def stop_session_tasks(self, session_id: str) -> None:
        """Stops every run of the session that has not ended."""
        for task in await self._tasks.list_tasks(session_id):
            if task.status not in TERMINAL_STATUSES:
                await self.stop_task(task.task_id)

    # Approvals

    async def list_approvals(self, task_id: str, status: str = "") -> list[ApprovalRecord]:
        await self.get_task(task_id)
        return await self._store.approvals.list_approvals(task_id, status)

    async def decide_approval(
        self, task_id: str, approval_id: str, decision: str, modified_arguments: dict[str, Any] | None, feedback: str
    ) -> ApprovalRecord:
        check_decision(decision, modified_arguments)
        approval = await self._store.approvals.get_approval(approval_id)
        if approval is None or approval.task_id != task_id:
            raise NotFound(f"Approval {approval_id} of task {task_id} not found", code="APPROVAL_NOT_FOUND")
        resolved = await self.approvals.decide(approval, decision, modified_arguments, feedback)
        self._runner.wake(task_id)
        return resolved

    # Artifacts

    async def list_artifacts(self, task_id: str) -> list[ArtifactRecord]:
        await self.get_task(task_id)
        return await self._store.artifacts.list_artifacts(task_id)

    async def get_artifact(self, task_id: str, artifact_id: str) -> ArtifactRecord:
        await self.get_task(task_id)
        artifact = await self._store.artifacts.get_artifact(task_id, artifact_id)
        if artifact is None:
            raise NotFound(f"Artifact {artifact_id} of task {task_id} not found", code="ARTIFACT_NOT_FOUND")
        return artifact

    # Live stream

    async def watch(self, task_id: str, after_sequence: int = 0) -> AsyncIterator[TaskEventRecord]:
        """Stored events after the cursor, then live ones, until the task's
        terminal status event (TASK_NOT_FOUND for no task)."""
        await self.get_task(task_id)
        async for event in self.follow(task_id, after_sequence):
            yield event

    async def follow(self, task_id: str, after_sequence: int) -> AsyncIterator[TaskEventRecord]:
        """`watch` of a task the caller has just read. Subscribes before
        reading storage and skips duplicates by sequence, so nothing is
        missed."""
        if after_sequence < 0:
            raise InvalidArgument("after_sequence must not be negative")
        subscription = self._bus.subscribe(lambda event: event.task_id == task_id)
        last = after_sequence
        try:
            while True:
                while True:
                    page = await self._tasks.list_events(task_id, last, REPLAY_PAGE)
                    for event in page:
                        last = event.sequence
                        yield event
                        if is_terminal(event):
                            return
                    if len(page) < REPLAY_PAGE:
                        break
                task = await self._tasks.get_task(task_id)
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
                    if is_terminal(event):
                        return
        finally:
            subscription.close()

