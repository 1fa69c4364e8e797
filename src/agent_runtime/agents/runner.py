"""The run loop: LLM call (streamed tokens) → tool calls → approvals → tool
execution → results back, until a final answer, the iteration limit, a stop,
or an error.

Everything a run needs to continue is persisted as it happens (the
conversation, the iteration count, started tool calls, approvals), so a run
that was in flight when the server died is resumed on the next start. Each
run is one asyncio task; stopping cancels it (a running command's process
group is killed) and ends it `stopped`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import pathlib
import time
import uuid
from typing import Any, Awaitable, Callable, TypeVar

import structlog

from agent_runtime.agents.approvals import PLAN_TOOL, ApprovalManager
from agent_runtime.agents.catalog import AGENT_TYPES_BY_NAME
from agent_runtime.config import AgentsConfig
from agent_runtime.agents.scheduler import FairScheduler
from agent_runtime.agents.context import assemble_context
from agent_runtime.agents.convert import approval_dict
from agent_runtime.agents.switching import SWITCH_TOOL, AgentSwitcher
from agent_runtime.agents.token_relay import TokenRelay
from agent_runtime.agents.models import (
    ACTIVE_STATUSES,
    APPROVED,
    COMPLETED,
    EDITED,
    EXPIRED,
    FAILED,
    PENDING,
    RUNNING,
    STOPPED,
    TERMINAL_STATUSES,
    WAITING_APPROVAL,
    ApprovalRecord,
    ArtifactRecord,
    ClientCallRecord,
    HitlSettings,
    TaskEventRecord,
    TaskRecord,
)
from agent_runtime.clock import Clock, iso, parse_iso, utc_now
from agent_runtime.errors import DomainError, InvalidArgument
from agent_runtime.events.bus import EventBus
from agent_runtime.llm.base import ChatMessage, Completion, TokenDelta, ToolCall, ToolSpec
from agent_runtime.llm.deadline import within_deadline
from agent_runtime.llm.registry import ProviderRegistry
from agent_runtime.sessions.models import NewEvent
from agent_runtime.sessions.service import SessionService
from agent_runtime.storage.sqlite.agents import AgentRepository
from agent_runtime.tools.base import ToolContext, ToolOutcome
from agent_runtime.tools.builtin import BUILTIN_TOOLS
from agent_runtime.tools.containment import Sandbox
from agent_runtime.tools.process import kill_leftovers, run_command
from agent_runtime.tools.registry import run_tool, tool_specs
from agent_runtime.tools.sandbox import ToolError, Workspace

log = structlog.get_logger(__name__)

SYSTEM_PROMPT = """You are {name}, an AI software engineer working in the project directory {root}.
Use the tools to inspect and change the project. Paths are relative to the project root.
Keep a short plan with update_plan and mark steps as you finish them.
When the task is done, answer with a short summary of what you did and no tool calls.
Restrictions: {restrictions}"""

# Characters of a tool's output kept in a `tool_result` event.
EVENT_OUTPUT_LIMIT = 16 * 1024
# How often a waiting run rereads its approval (decisions from another
# process); decisions in this process wake it at once.
APPROVAL_POLL_SECONDS = 2.0
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# Before the user approved a plan (sessions with require_plan_approval), a
# run may only look around, plan and hand over.
PLAN_FREE_TOOLS = frozenset({"read_file", "list_files", "search_in_code", "git_diff", PLAN_TOOL, SWITCH_TOOL})
# What a paused run waits for (`waiting_for` of its `waiting_approval`
# status event; the codelab stream's `done` says `waiting_<it>`).
WAITING_FOR_APPROVAL = "approval"
WAITING_FOR_PLAN = "plan_approval"
WAITING_FOR_TOOL_RESULT = "tool_result"

T = TypeVar("T")


class RunEnded(Exception):
    """Ends a run with a terminal status."""

    def __init__(self, status: str, summary: str, code: str | None = None, success: bool = False):
        super().__init__(summary)
        self.status, self.summary, self.code, self.success = status, summary, code, success


def tools_for(agent_type: str, requested: list[str], *, can_switch: bool = False) -> list[str]:
    """The tools a turn of `agent_type` may call: its documented set (narrowed
    to `requested` when given) plus update_plan, and for the orchestrator
    `switch_agent` when automatic switching is on."""
    agent = AGENT_TYPES_BY_NAME.get(agent_type) or AGENT_TYPES_BY_NAME["coder"]
    names = [*agent.tools, "update_plan"]
    chosen = [n for n in requested if n in names] or names
    if can_switch and agent.type == "orchestrator":
        chosen.append(SWITCH_TOOL)
    return chosen


SWITCH_SPEC = ToolSpec(
    SWITCH_TOOL,
    "Hand the conversation to the agent best suited for the request: coder (writes and runs code), "
    "architect (designs; writes only .md files), debug (finds causes; read-only, may run commands), "
    "ask (explains; read-only). Give the reason for the switch.",
    {
        "type": "object",
        "properties": {
            "agent_type": {"type": "string", "enum": [a for a in AGENT_TYPES_BY_NAME if a != "orchestrator"]},
            "reason": {"type": "string", "description": "Why this agent fits the request."},
        },
        "required": ["agent_type", "reason"],
    },
)


def invalid_tool(agent_type: str, name: str, arguments: dict[str, Any], allowed: list[str]) -> str | None:
    """Why `agent_type` may not make this call (INVALID_TOOL), or None: a tool
    outside its set, or (architect) a write to anything but a `.md` file."""
    agent = AGENT_TYPES_BY_NAME.get(agent_type) or AGENT_TYPES_BY_NAME["coder"]
    if name not in allowed:
        return f"INVALID_TOOL: {agent.name} cannot use {name!r}; its tools: {', '.join(allowed)}"
    if agent.type == "architect" and name == "write_file":
        path = arguments.get("path")
        if not isinstance(path, str) or not path.lower().endswith(".md"):
            return f"INVALID_TOOL: {agent.name} may write only .md files, not {path!r}"
    return None


def system_prompt(agent_type: str, root: str) -> str:
    agent = AGENT_TYPES_BY_NAME.get(agent_type) or AGENT_TYPES_BY_NAME["coder"]
    return SYSTEM_PROMPT.format(name=agent.name, root=root, restrictions="; ".join(agent.restrictions) or "none")


def pending_calls(messages: list[ChatMessage]) -> list[ToolCall]:
    """Tool calls of the last assistant message that have no result yet."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.role == "assistant":
            answered = {m.tool_call_id for m in messages[index + 1 :] if m.role == "tool"}
            return [call for call in message.tool_calls if call.id not in answered]
    return []


@dataclasses.dataclass
class _Run:
    task: asyncio.Task
    progress_at: float
    waiting: bool = False
    cancel_reason: str = ""
    holds_slot: bool = False
    # Whose run it is (the task's owner): slots are shared fairly by owner.
    owner: str = ""


class AgentRunner:
    def __init__(
        self,
        repository: AgentRepository,
        registry: ProviderRegistry,
        sessions: SessionService,
        bus: EventBus[TaskEventRecord],
        config: AgentsConfig,
        *,
        clock: Clock = utc_now,
        sandbox: Sandbox,
        max_concurrent_runs: int = 8,
        commands_dir: pathlib.Path | None = None,
        switcher: AgentSwitcher | None = None,
        approvals: ApprovalManager | None = None,
    ):
        self._repo = repository
        self._registry = registry
        self._sessions = sessions
        self._bus = bus
        self._config = config
        self._clock = clock
        self._runs: dict[str, _Run] = {}
        self._wakeups: dict[str, asyncio.Event] = {}
        self._slots = FairScheduler(max_concurrent_runs, min(config.runs_per_user, max_concurrent_runs))
        self._watchdog: asyncio.Task | None = None
        self._closing = False
        self._commands_dir = commands_dir
        self.sandbox = sandbox
        self._switcher = switcher
        self.approvals = approvals or ApprovalManager(
            repository, sessions, timeout_seconds=config.approval_timeout_seconds, clock=clock
        )

    def _now(self) -> str:
        return iso(self._clock())

    # Lifecycle

    async def start(self) -> None:
        """Resumes runs that were in flight when the server last stopped and
        starts the watchdog."""
        if self._commands_dir is not None:
            killed = kill_leftovers(self._commands_dir)
            if killed:
                log.warning("agent.killed_leftover_commands", process_groups=killed)
        for task in await self._repo.tasks_with_status(ACTIVE_STATUSES):
            if task.stop_requested:
                await self._finish(task.task_id, RunEnded(STOPPED, "Task stopped"))
                continue
            log.info("agent.resume", task_id=task.task_id, status=task.status)
            await self.emit(task.task_id, "status", status=task.status, message="Resumed after a server restart")
            self.submit(task.task_id)
        if self._config.watchdog_seconds > 0:
            self._watchdog = asyncio.create_task(self._watch())

    async def close(self) -> None:
        """Cancels every run without ending it: each is resumed on the next
        start from what was persisted."""
        self._closing = True
        if self._watchdog:
            self._watchdog.cancel()
        runs = list(self._runs.values())
        for run in runs:
            run.cancel_reason = "shutdown"
            run.task.cancel()
        await asyncio.gather(*(run.task for run in runs), return_exceptions=True)

    def submit(self, task_id: str) -> None:
        if task_id in self._runs or self._closing:
            return
        self._runs[task_id] = _Run(asyncio.create_task(self._drive(task_id)), time.monotonic())

    def is_running_here(self, task_id: str) -> bool:
        return task_id in self._runs

    def wake(self, task_id: str) -> None:
        event = self._wakeups.get(task_id)
        if event is not None:
            event.set()

    async def stop(self, task_id: str) -> None:
        """Stops a run of this process and waits until it ended."""
        run = self._runs.get(task_id)
        if run is None:
            task = await self._repo.get_task(task_id)
            if task is not None and task.status not in TERMINAL_STATUSES:
                await self._finish(task_id, RunEnded(STOPPED, "Task stopped"))
            return
        run.cancel_reason = "stop"
        run.task.cancel()
        await asyncio.gather(run.task, return_exceptions=True)

    # Events

    async def emit(self, task_id: str, type: str, **fields: Any) -> TaskEventRecord | None:
        body = {"type": type, "task_id": task_id, "timestamp": self._now(), **fields}
        record = await self._repo.append_event(task_id, type, body, body["timestamp"])
        if record is not None:
            self._bus.publish(record)
            run = self._runs.get(task_id)
            if run is not None:
                run.progress_at = time.monotonic()
        return record

    async def _mirror(self, task: TaskRecord, event_type: str, body: dict[str, Any]) -> None:
        """Copies a run step into the session's event log."""
        try:
            await self._sessions.append_event(
                task.session_id, NewEvent(event_type=event_type, timestamp=self._now(), body={**body, "payload": {"task_id": task.task_id}})
            )
        except DomainError as error:
            log.warning("agent.mirror_failed", task_id=task.task_id, error=error.detail)

    async def _set_status(self, task_id: str, status: str, message: str, *, only_if: tuple[str, ...]) -> None:
        if await self._repo.update_task(task_id, {"status": status, "updated_at": self._now()}, only_if_status=only_if):
            await self.emit(task_id, "status", status=status, message=message)

    # The run

    async def _drive(self, task_id: str) -> None:
        # The run outlives the request that started it: log under its own id.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(task_id=task_id)
        run = self._runs[task_id]
        try:
            try:
                task = await self._repo.get_task(task_id)
                run.owner = task.owner if task is not None else ""
                await self._take_slot(run, task_id, only_if=("accepted",))
                await self._set_status(task_id, RUNNING, "Task started", only_if=("accepted", "queued"))
                ended = await self._loop(task_id)
            except RunEnded as end:
                ended = end
            except asyncio.CancelledError:
                reason = run.cancel_reason
                if reason == "shutdown" or not reason:
                    raise
                if reason == "watchdog":
                    ended = RunEnded(
                        FAILED,
                        f"No progress for {self._config.watchdog_seconds:g} seconds; the watchdog stopped the run",
                        "WATCHDOG_TIMEOUT",
                    )
                else:
                    ended = RunEnded(STOPPED, "Task stopped")
            except DomainError as error:
                ended = RunEnded(FAILED, error.detail, error.code)
            except Exception as error:  # noqa: BLE001 - a run ends failed, never silently
                log.exception("agent.run_crashed", task_id=task_id)
                ended = RunEnded(FAILED, f"Internal error: {type(error).__name__}: {error}", "INTERNAL_ERROR")
            await self._finish(task_id, ended)
        except asyncio.CancelledError:
            pass
        finally:
            if run.holds_slot:
                run.holds_slot = False
                self._slots.release(run.owner)
            self._runs.pop(task_id, None)
            self._wakeups.pop(task_id, None)

    async def _take_slot(self, run: _Run, task_id: str, *, only_if: tuple[str, ...]) -> None:
        if self._slots.would_wait(run.owner):
            await self._set_status(task_id, "queued", "Waiting for a free run slot", only_if=only_if)
        await self._slots.acquire(run.owner)
        run.holds_slot = True

    async def _loop(self, task_id: str) -> RunEnded:
        task = await self._require(task_id)
        provider, model = await self._registry.resolve(task.model)
        if task.model != model and "/" not in task.model:
            await self._repo.update_task(task_id, {"model": model})
        try:
            workspace = Workspace(task.working_directory)
        except ToolError as error:
            raise RunEnded(FAILED, str(error), "WORKSPACE_MISSING") from None
        context = ToolContext(
            workspace,
            command_timeout=self._config.command_timeout_seconds,
            output_limit=self._config.tool_output_limit,
            max_file_bytes=self._config.max_file_bytes,
            sandbox=self.sandbox,
            network=self._config.sandbox.allows_network(task.session_id),
            save_plan=lambda plan: self._save_plan(task_id, plan),
            commands_dir=self._commands_dir,
        )
        messages = [ChatMessage.from_dict(m) for m in await self._repo.list_messages(task_id)]
        if not messages:
            messages = [ChatMessage("system", system_prompt(task.agent_type, str(workspace.root))), ChatMessage("user", task.description)]
            await self._repo.append_messages(task_id, [m.to_dict() for m in messages])
        while True:
            task = await self._require(task_id)
            if task.stop_requested:
                raise RunEnded(STOPPED, "Task stopped")
            # Read each turn: an agent switch changes the type, and with it
            # the tools the model gets.
            allowed = tools_for(task.agent_type, task.tools, can_switch=self._can_switch())
            specs = tool_specs(allowed)
            if SWITCH_TOOL in allowed:
                specs.append(SWITCH_SPEC)
            hitl = await self._hitl_settings(task.session_id)
            for client_tool in hitl.client_tools:
                allowed.append(client_tool.name)
                specs.append(ToolSpec(client_tool.name, client_tool.description, client_tool.parameters))
            calls = pending_calls(messages)
            if calls:
                # One call at a time: a switch_agent call changes the agent
                # (and its tools) for the calls after it.
                result = await self._handle_call(task, calls[0], context, allowed, hitl)
                messages.append(result)
                await self._repo.append_messages(task_id, [result.to_dict()])
                continue
            inputs = await self._repo.take_inputs(task_id)
            if inputs:
                new = [ChatMessage("user", text) for text in inputs]
                messages.extend(new)
                await self._repo.append_messages(task_id, [m.to_dict() for m in new])
                for text in inputs:
                    await self._mirror(task, "message", {"role": "user", "content": [{"type": "text", "text": text}]})
            if task.iterations >= task.max_iterations:
                raise RunEnded(FAILED, "Maximum iterations reached", "MAX_ITERATIONS_REACHED")
            await self._repo.update_task(task_id, {"iterations": task.iterations + 1, "updated_at": self._now()})
            window = assemble_context(messages, self._config.max_context_messages, self._config.max_context_tokens)
            completion = await self._complete(task_id, provider, model, window, specs)
            reply = ChatMessage("assistant", completion.text, completion.tool_calls)
            messages.append(reply)
            await self._repo.append_messages(task_id, [reply.to_dict()])
            if completion.text:
                await self._mirror(task, "message", {"role": "assistant", "content": [{"type": "text", "text": completion.text}]})
            if not completion.tool_calls:
                return RunEnded(COMPLETED, completion.text or "Task completed", success=True)

    async def _complete(self, task_id: str, provider, model: str, window: list[ChatMessage], specs) -> Completion:
        relay = TokenRelay(lambda text: self.emit(task_id, "token", content=text))
        completion: Completion | None = None
        events = within_deadline(
            provider.stream(model, window, specs, max_tokens=self._config.max_output_tokens),
            self._config.llm_total_timeout_seconds,
            f"{provider.info.id}/{model}",
        )
        try:
            async for event in events:
                if isinstance(event, TokenDelta):
                    relay.push(event.text)
                    run = self._runs.get(task_id)
                    if run is not None:
                        run.progress_at = time.monotonic()
                else:
                    completion = event
        finally:
            await relay.close()
        if completion is None:
            raise RunEnded(FAILED, "The model's stream ended without a completion", "LLM_ERROR")
        return completion

    async def _hitl_settings(self, session_id: str) -> HitlSettings:
        if self._switcher is None:
            return HitlSettings()
        return await self._switcher.repository.get_hitl_settings(session_id)

    async def _plan_approved(self, task_id: str) -> bool:
        return any(
            a.tool_name == PLAN_TOOL and a.status in (APPROVED, EDITED) for a in await self._repo.list_approvals(task_id)
        )

    async def _handle_call(
        self, task: TaskRecord, call: ToolCall, context: ToolContext, allowed: list[str], hitl: HitlSettings
    ) -> ChatMessage:
        def result(outcome: ToolOutcome) -> ChatMessage:
            return ChatMessage("tool", outcome.output, tool_call_id=call.id, tool_name=call.name, is_error=not outcome.success)

        arguments = call.arguments
        if call.arguments_error:
            outcome = ToolOutcome(f"Error: {call.arguments_error}", success=False)
            await self.emit(task.task_id, "tool_result", tool=call.name, output=outcome.output, success=False, call_id=call.id)
            return result(outcome)
        refusal = invalid_tool(task.agent_type, call.name, arguments, allowed)
        plan_gate = hitl.require_plan_approval and not await self._plan_approved(task.task_id)
        if refusal is None and plan_gate and call.name not in PLAN_FREE_TOOLS:
            refusal = (
                f"PLAN_NOT_APPROVED: propose your plan with {PLAN_TOOL} first; "
                f"{call.name} may run only after the user approved it"
            )
        if refusal is None and call.name == SWITCH_TOOL:
            return result(await self._switch_call(task, call))
        if refusal is None and call.name in {t.name for t in hitl.client_tools}:
            return result(await self._client_call(task, call))
        note = ""
        needs_approval = call.name in self._config.hitl_dangerous_tools or (plan_gate and call.name == PLAN_TOOL)
        if refusal is None and needs_approval:
            approval = await self._await_approval(task, call, plan=call.name == PLAN_TOOL)
            if approval.status == EDITED:
                arguments = approval.modified_arguments or {}
                refusal = invalid_tool(task.agent_type, call.name, arguments, allowed)
            elif approval.status != APPROVED:
                why = approval.feedback or ("the approval expired" if approval.status == EXPIRED else "no reason given")
                if call.name == PLAN_TOOL and (approval.status == EXPIRED or not approval.feedback):
                    # Nothing to re-plan with: nobody approved the work.
                    raise RunEnded(
                        STOPPED, "The plan's approval expired" if approval.status == EXPIRED else "The user rejected the plan", "PLAN_REJECTED"
                    )
                outcome = ToolOutcome(f"The user rejected this {call.name} call: {why}", success=False)
                if call.name == PLAN_TOOL:
                    outcome.output += f". Make a new plan that addresses this and propose it with {PLAN_TOOL}."
                await self.emit(task.task_id, "tool_result", tool=call.name, output=outcome.output, success=False, call_id=call.id)
                await self._mirror(task, "post_tool", {"tool_name": call.name, "tool_input": arguments, "error": outcome.output})
                return result(outcome)
            if call.name == PLAN_TOOL:
                note = " The user approved this plan: carry it out."
        if refusal is not None:
            # Refused, never executed: the model reads why as the tool result.
            outcome = ToolOutcome(f"Error: {refusal}", success=False)
            code = refusal.split(":", 1)[0]
            await self.emit(task.task_id, "tool_result", tool=call.name, output=outcome.output, success=False, call_id=call.id, code=code)
            await self._mirror(task, "post_tool", {"tool_name": call.name, "tool_input": arguments, "error": outcome.output})
            return result(outcome)
        if call.id in await self._repo.started_calls(task.task_id):
            outcome = ToolOutcome(
                f"Error: the server restarted while {call.name} ran; its effect is unknown. Check the project state before retrying.",
                success=False,
            )
        else:
            await self.emit(task.task_id, "tool_call", tool=call.name, input=arguments, call_id=call.id)
            await self._mirror(task, "pre_tool", {"tool_name": call.name, "tool_input": arguments})
            outcome = await run_tool(call.name, arguments, context, allowed)
            if note and outcome.success:
                outcome.output += note
        failed = {} if outcome.success else {"code": "TOOL_EXECUTION_FAILED"}
        await self._report_outcome(task, call, arguments, outcome, **failed)
        return result(outcome)

    async def _report_outcome(self, task: TaskRecord, call: ToolCall, arguments: dict[str, Any], outcome: ToolOutcome, **fields: Any) -> None:
        """A tool's outcome as the run's `tool_result` event (with `fields`)
        and the session log's `post_tool` event, its output capped."""
        output = outcome.output if len(outcome.output) <= EVENT_OUTPUT_LIMIT else outcome.output[:EVENT_OUTPUT_LIMIT] + "…"
        await self.emit(task.task_id, "tool_result", tool=call.name, output=output, success=outcome.success, call_id=call.id, **fields)
        post: dict[str, Any] = {"tool_name": call.name, "tool_input": arguments, "tool_output": output}
        if not outcome.success:
            post["error"] = output
        if outcome.exit_code is not None:
            post["exit_code"] = outcome.exit_code
        await self._mirror(task, "post_tool", post)

    def _can_switch(self) -> bool:
        config = self._config
        return self._switcher is not None and config.multi_agent_enabled and config.auto_agent_switching

    async def _switch_call(self, task: TaskRecord, call: ToolCall) -> ToolOutcome:
        """The orchestrator's `switch_agent`: switches the run (and its
        session) to the target agent; the next turn gets that agent's tools."""
        target = call.arguments.get("agent_type")
        reason = call.arguments.get("reason")
        assert self._switcher is not None
        try:
            if not isinstance(target, str) or not isinstance(reason, str):
                raise InvalidArgument("switch_agent needs agent_type and reason as strings")
            state = await self._switcher.switch(task.session_id, target, reason, task_id=task.task_id, from_agent=task.agent_type)
        except DomainError as error:
            outcome = ToolOutcome(f"Error: {error.code}: {error.detail}", success=False)
            await self.emit(task.task_id, "tool_result", tool=call.name, output=outcome.output, success=False, call_id=call.id, code=error.code)
            return outcome
        switch = state.history[-1]
        agent = AGENT_TYPES_BY_NAME[target]
        await self.emit(
            task.task_id, "agent_switched", from_agent=switch.from_agent, to_agent=switch.to_agent, reason=switch.reason, call_id=call.id
        )
        await self._mirror(task, "agent_switched", {"from_agent": switch.from_agent, "to_agent": switch.to_agent, "reason": switch.reason})
        outcome = ToolOutcome(
            f"Switched to {agent.name}. You are now {agent.name} ({agent.description}); "
            f"your tools: {', '.join(agent.tools)}; restrictions: {'; '.join(agent.restrictions) or 'none'}. Continue with the user's request."
        )
        await self.emit(task.task_id, "tool_result", tool=call.name, output=outcome.output, success=True, call_id=call.id)
        return outcome

    async def _await_approval(self, task: TaskRecord, call: ToolCall, *, plan: bool) -> ApprovalRecord:
        """Asks for (or, resumed, finds) the call's approval and waits for
        its decision; expiry rejects it."""
        if plan:
            reason = "The plan needs the user's approval before the agent carries it out"
        else:
            reason = f"{call.name} is in HITL_DANGEROUS_TOOLS and needs approval"
        approval, created, paused = await self.approvals.request(task, call, reason)
        if approval.status != PENDING:
            return approval
        if created:
            await self.emit(
                task.task_id,
                "plan_approval_required" if plan else "approval_required",
                approval=approval_dict(approval),
                tool=call.name,
                input=call.arguments,
                call_id=call.id,
            )

        async def decided() -> tuple[ApprovalRecord | None, float]:
            current = await self._repo.get_approval(approval.approval_id)
            if current is None:
                raise RunEnded(FAILED, "The approval disappeared", "INTERNAL_ERROR")
            if current.status != PENDING:
                return current, 0
            deadline = parse_iso(current.expires_at) if current.expires_at else None
            return None, await self._next_check(deadline, lambda: self.approvals.expire(current))

        if paused:
            await self._tell_waiting(task, call, f"Waiting for approval of {call.name}", WAITING_FOR_PLAN if plan else WAITING_FOR_APPROVAL)
        if created:
            # Logged once the run shows as waiting: whoever reads the log
            # (or the pending list) finds the task paused.
            await self.approvals.announce(task.session_id, approval)
        decided_approval = await self._pause(task, decided)
        await self._set_status(task.task_id, RUNNING, f"Approval {decided_approval.status}", only_if=(WAITING_APPROVAL, "queued"))
        return decided_approval

    async def _client_call(self, task: TaskRecord, call: ToolCall) -> ToolOutcome:
        """A call of a client-side tool: told as a `tool_call` event with
        `client_side`, then the run waits (persisted) for the client's
        `tool_result` message, which is the model's tool result."""
        proposed = ClientCallRecord(task.task_id, call.id, call.name, call.arguments, PENDING, self._now())
        stored, created, paused = await self._repo.create_client_call(proposed, proposed.created_at)
        if created:
            await self.emit(task.task_id, "tool_call", tool=call.name, input=call.arguments, call_id=call.id, client_side=True)
            await self._mirror(task, "pre_tool", {"tool_name": call.name, "tool_input": call.arguments})

        timeout = self._config.approval_timeout_seconds

        async def answered() -> tuple[ClientCallRecord | None, float]:
            current = await self._repo.get_client_call(task.task_id, call.id)
            if current is None:
                raise RunEnded(FAILED, "The client tool call disappeared", "INTERNAL_ERROR")
            if current.status != PENDING:
                return current, 0
            deadline = parse_iso(current.created_at) + dt.timedelta(seconds=timeout) if timeout > 0 else None
            # As an unanswered approval expires: the model hears why, and a
            # late result is refused.
            expired = f"The client returned no result within {timeout:g} s (APPROVAL_TIMEOUT_SECONDS); the call expired"
            return None, await self._next_check(
                deadline, lambda: self._repo.answer_client_call(task.task_id, call.id, expired, True, self._now())
            )

        if paused:
            await self._tell_waiting(task, call, f"Waiting for the client's result of {call.name}", WAITING_FOR_TOOL_RESULT)
        if stored.status == PENDING:
            stored = await self._pause(task, answered)
            await self._set_status(task.task_id, RUNNING, f"The client answered {call.name}", only_if=(WAITING_APPROVAL, "queued"))
        outcome = ToolOutcome(stored.result or "", success=not stored.is_error)
        await self._report_outcome(task, call, call.arguments, outcome, client_side=True)
        return outcome

    async def _next_check(self, deadline: dt.datetime | None, expire: Callable[[], Awaitable[Any]]) -> float:
        """Seconds until a pause checks again on what it waits for, pending
        until `deadline` (None: none); past it, `expire()` ends the wait and
        the check follows at once."""
        if deadline is None:
            return APPROVAL_POLL_SECONDS
        remaining = (deadline - self._clock()).total_seconds()
        if remaining <= 0:
            await expire()
            return 0
        return min(APPROVAL_POLL_SECONDS, remaining)

    async def _tell_waiting(self, task: TaskRecord, call: ToolCall, message: str, waiting_for: str) -> None:
        """The event of the task's new `waiting_approval` status; it says
        what for."""
        await self.emit(task.task_id, "status", status=WAITING_APPROVAL, message=message, waiting_for=waiting_for, call_id=call.id)

    async def _pause(self, task: TaskRecord, check: Callable[[], Awaitable[tuple[T | None, float]]]) -> T:
        """Waits, with the run slot freed, until `check()` gives a value
        (woken at once by decisions of this process, else polled after the
        seconds it says)."""
        wakeup = self._wakeups.setdefault(task.task_id, asyncio.Event())
        run = self._runs.get(task.task_id)
        if run is not None:
            run.waiting = True
            # Waiting for a human or the client frees the slot for other runs.
            if run.holds_slot:
                run.holds_slot = False
                self._slots.release(run.owner)
        try:
            while True:
                # Cleared before the check: a wake-up during it is not lost.
                wakeup.clear()
                value, wait = await check()
                if value is not None:
                    break
                if wait > 0:
                    try:
                        await asyncio.wait_for(wakeup.wait(), wait)
                    except asyncio.TimeoutError:
                        pass
        finally:
            if run is not None:
                run.waiting = False
                run.progress_at = time.monotonic()
        if run is not None and not run.holds_slot:
            await self._take_slot(run, task.task_id, only_if=(WAITING_APPROVAL,))
        return value

    async def _save_plan(self, task_id: str, plan: list[dict[str, str]]) -> None:
        await self._repo.update_task(task_id, {"plan": plan, "updated_at": self._now()})
        await self.emit(task_id, "plan_update", plan={"steps": plan})

    async def _require(self, task_id: str) -> TaskRecord:
        task = await self._repo.get_task(task_id)
        if task is None:
            # The session (and its tasks) was deleted under the run.
            raise asyncio.CancelledError()
        return task

    # Ending

    async def _finish(self, task_id: str, ended: RunEnded) -> None:
        task = await self._repo.get_task(task_id)
        if task is None or task.status in TERMINAL_STATUSES:
            return
        now = self._now()
        await self.approvals.reject_pending(task_id, "task stopped" if ended.status == STOPPED else f"task ended {ended.status}")
        try:
            await self._write_artifacts(task)
        except Exception:  # noqa: BLE001 - artifacts must not keep a run from ending
            log.exception("agent.artifacts_failed", task_id=task_id)
        changed = await self._repo.update_task(
            task_id,
            {
                "status": ended.status,
                "result_success": ended.success,
                "result_summary": ended.summary,
                "error_code": ended.code,
                "completed_at": now,
                "updated_at": now,
            },
            only_if_status=ACTIVE_STATUSES,
        )
        if not changed:
            return
        if ended.status == FAILED:
            await self.emit(task_id, "error", error=ended.summary, code=ended.code or "ERROR")
        message = {COMPLETED: "Task completed successfully", STOPPED: "Task stopped"}.get(ended.status, ended.summary)
        await self.emit(task_id, "status", status=ended.status, message=message)
        log.info("agent.finished", task_id=task_id, status=ended.status, code=ended.code)

    async def _write_artifacts(self, task: TaskRecord) -> None:
        now = self._now()
        if task.plan:
            content = json.dumps({"steps": task.plan}, indent=2).encode()
            await self._repo.put_artifact(
                ArtifactRecord(str(uuid.uuid4()), task.task_id, "plan.json", "plan", "application/json", len(content), now, content)
            )
        diff = await project_diff(self.sandbox, task.working_directory, task.base_commit)
        if diff:
            await self._repo.put_artifact(
                ArtifactRecord(str(uuid.uuid4()), task.task_id, "diff.patch", "diff", "text/x-diff", len(diff), now, diff)
            )

    # Watchdog

    async def _watch(self) -> None:
        interval = max(0.05, min(5.0, self._config.watchdog_seconds / 4))
        while True:
            await asyncio.sleep(interval)
            deadline = time.monotonic() - self._config.watchdog_seconds
            for task_id, run in list(self._runs.items()):
                if not run.waiting and run.progress_at < deadline and not run.cancel_reason:
                    log.warning("agent.watchdog", task_id=task_id)
                    run.cancel_reason = "watchdog"
                    run.task.cancel()


async def git_output(sandbox: Sandbox, cwd: str, *args: str, timeout: float = 30) -> tuple[int | None, bytes]:
    """git in the project, contained like the agent's commands: a project's
    own git config (fsmonitor, diff drivers, filters) runs programs."""
    try:
        code, output, _ = await run_command(
            ["git", "-c", "core.hooksPath=/dev/null", *args], cwd, timeout=timeout, output_limit=8 * 1024 * 1024, sandbox=sandbox
        )
    except ToolError as error:
        return None, str(error).encode()
    return code, output.encode()


async def head_commit(sandbox: Sandbox, cwd: str) -> str | None:
    """HEAD of the project's git repository; the empty tree for a repository
    without commits; None when it is no repository."""
    code, _ = await git_output(sandbox, cwd, "rev-parse", "--is-inside-work-tree")
    if code != 0:
        return None
    code, output = await git_output(sandbox, cwd, "rev-parse", "HEAD")
    return output.decode().strip() if code == 0 else EMPTY_TREE


async def project_diff(sandbox: Sandbox, cwd: str, base: str | None) -> bytes:
    """The task's changes: `git diff <base>` (commits and working tree) plus
    new untracked files."""
    if base is None:
        return b""
    code, diff = await git_output(sandbox, cwd, "diff", "--no-color", base)
    if code != 0:
        return b""
    code, untracked = await git_output(sandbox, cwd, "ls-files", "--others", "--exclude-standard", "-z")
    if code == 0:
        for name in [n for n in untracked.decode().split("\0") if n][:200]:
            _, added = await git_output(sandbox, cwd, "diff", "--no-color", "--no-index", "--", "/dev/null", name)
            diff += added
    return diff
