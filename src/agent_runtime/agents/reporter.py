"""What a run tells: its run events (stored, then published to watchers) and
the copies of its steps in the session's event log."""

from __future__ import annotations

from typing import Any, Callable

import structlog

from agent_runtime.agents import run_events
from agent_runtime.agents.models import LeaseLost, TaskEventRecord, TaskRecord
from agent_runtime.agents.ports import TaskRepository
from agent_runtime.clock import Clock, iso
from agent_runtime.errors import DomainError
from agent_runtime.events.bus import EventBus
from agent_runtime.llm.base import ToolCall
from agent_runtime.sessions.models import APPEND_REFUSED, NewEvent
from agent_runtime.sessions.service import SessionService
from agent_runtime.tools.base import ToolOutcome

log = structlog.get_logger(__name__)

# Characters of a tool's output kept in a `tool_result` event.
EVENT_OUTPUT_LIMIT = 16 * 1024


def capped(output: str) -> str:
    return output if len(output) <= EVENT_OUTPUT_LIMIT else output[:EVENT_OUTPUT_LIMIT] + "…"


class RunReporter:
    def __init__(
        self,
        tasks: TaskRepository,
        sessions: SessionService,
        bus: EventBus[TaskEventRecord],
        *,
        clock: Clock,
        progress: Callable[[str], None],
    ):
        self._tasks = tasks
        self._sessions = sessions
        self._bus = bus
        self._clock = clock
        self._progress = progress

    def now(self) -> str:
        return iso(self._clock())

    async def emit(self, task_id: str, event: run_events.RunEvent) -> TaskEventRecord | None:
        body = event.body(task_id, self.now())
        record = await self._tasks.append_event(task_id, event.TYPE, body, body["timestamp"])
        if record is not None:
            self._bus.publish(record)
            self._progress(task_id)
        return record

    async def mirror(self, task: TaskRecord, event_type: str, body: dict[str, Any]) -> None:
        """Copies a run step into the session's event log, fenced by the
        run's lease like its own writes."""
        try:
            await self._sessions.append_event(
                task.session_id,
                NewEvent(event_type=event_type, timestamp=self.now(), body={**body, "payload": {"task_id": task.task_id}}),
                guard=self._tasks.lease_guard(task.task_id),
            )
        except DomainError as error:
            if error.code == APPEND_REFUSED:
                raise LeaseLost(task.task_id) from error
            log.warning("agent.mirror_failed", task_id=task.task_id, error=error.detail)

    async def set_status(self, task_id: str, status: str, message: str, *, only_if: tuple[str, ...]) -> None:
        if await self._tasks.update_task(task_id, {"status": status, "updated_at": self.now()}, only_if_status=only_if):
            await self.emit(task_id, run_events.Status(status=status, message=message))

    async def tool_call(self, task: TaskRecord, call: ToolCall, arguments: dict[str, Any], *, client_side: bool | None = None) -> None:
        """A call about to run (or handed to the client): the `tool_call`
        event and the session log's `pre_tool`."""
        await self.emit(task.task_id, run_events.ToolCallEvent(tool=call.name, input=arguments, call_id=call.id, client_side=client_side))
        await self.mirror(task, "pre_tool", {"tool_name": call.name, "tool_input": arguments})

    async def tool_result(
        self,
        task: TaskRecord,
        call: ToolCall,
        outcome: ToolOutcome,
        *,
        logged_input: dict[str, Any] | None = None,
        ran: bool = True,
        code: str | None = None,
        client_side: bool | None = None,
    ) -> None:
        """A call's outcome as the run's `tool_result` event, its output
        capped. With `logged_input` (the arguments it ran, or would have
        run, with) also the session log's `post_tool`: the output of a call
        that `ran`, its error otherwise."""
        output = capped(outcome.output)
        await self.emit(
            task.task_id,
            run_events.ToolResult(tool=call.name, output=output, success=outcome.success, call_id=call.id, code=code, client_side=client_side),
        )
        if logged_input is None:
            return
        post: dict[str, Any] = {"tool_name": call.name, "tool_input": logged_input}
        if ran:
            post["tool_output"] = output
        if not outcome.success:
            post["error"] = output
        if ran and outcome.exit_code is not None:
            post["exit_code"] = outcome.exit_code
        await self.mirror(task, "post_tool", post)
