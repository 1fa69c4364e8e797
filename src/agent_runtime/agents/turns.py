"""The turn loop of one run: LLM call (streamed tokens) → tool calls →
approvals → tool execution → results back, until a final answer, the
iteration limit, a stop, or an error. Every step is persisted as it
happens (conversation, iteration count, started calls), so a resumed run
goes on where it was."""

from __future__ import annotations

import asyncio
import pathlib

from agent_runtime.agents import run_events
from agent_runtime.agents.approvals import PLAN_TOOL
from agent_runtime.agents.catalog import AGENT_TYPES_BY_NAME
from agent_runtime.config import AgentsConfig, LLMSettings
from agent_runtime.agents.context import assemble_context
from agent_runtime.agents.models import APPROVED, COMPLETED, EDITED, FAILED, STOPPED, HitlSettings, TaskRecord
from agent_runtime.agents.pauses import RunPauses
from agent_runtime.agents.ports import AgentStore
from agent_runtime.agents.reporter import RunReporter
from agent_runtime.agents.run_end import RunEnded
from agent_runtime.agents.run_table import RunTable
from agent_runtime.agents.switching import SWITCH_TOOL, AgentSwitcher
from agent_runtime.agents.token_relay import TokenRelay
from agent_runtime.agents.tool_policy import (
    SWITCH_SPEC,
    approved_note,
    invalid_tool,
    pending_calls,
    refusal_code,
    rejection_output,
    route_call,
    system_prompt,
    tools_for,
)
from agent_runtime.errors import DomainError, InvalidArgument
from agent_runtime.llm.base import ChatMessage, Completion, TokenDelta, ToolCall, ToolSpec
from agent_runtime.llm.deadline import within_deadline
from agent_runtime.llm.registry import ProviderRegistry
from agent_runtime.tools.base import ToolContext, ToolOutcome
from agent_runtime.tools.containment import Sandbox
from agent_runtime.tools.registry import run_tool, tool_specs
from agent_runtime.tools.sandbox import ToolError, Workspace


class TurnLoop:
    def __init__(
        self,
        store: AgentStore,
        registry: ProviderRegistry,
        config: AgentsConfig,
        reporter: RunReporter,
        pauses: RunPauses,
        table: RunTable,
        *,
        llm: LLMSettings,
        sandbox: Sandbox,
        commands_dir: pathlib.Path | None,
        switcher: AgentSwitcher | None,
    ):
        self._store = store
        self._tasks = store.tasks
        self._registry = registry
        self._config = config
        self._llm = llm
        self._reporter = reporter
        self._pauses = pauses
        self._table = table
        self._sandbox = sandbox
        self._commands_dir = commands_dir
        self._switcher = switcher

    async def run(self, task_id: str) -> RunEnded:
        task = await self._require(task_id)
        provider, model = await self._registry.resolve(task.model)
        if task.model != model and "/" not in task.model:
            await self._tasks.update_task(task_id, {"model": model})
        try:
            workspace = Workspace(task.working_directory)
        except ToolError as error:
            raise RunEnded(FAILED, str(error), "WORKSPACE_MISSING") from None
        context = ToolContext(
            workspace,
            command_timeout=self._config.command_timeout_seconds,
            output_limit=self._config.tool_output_limit,
            max_file_bytes=self._config.max_file_bytes,
            sandbox=self._sandbox,
            network=self._config.sandbox.allows_network(task.session_id),
            save_plan=lambda plan: self._save_plan(task_id, plan),
            commands_dir=self._commands_dir,
        )
        messages = [ChatMessage.from_dict(m) for m in await self._tasks.list_messages(task_id)]
        if not messages:
            messages = [ChatMessage("system", system_prompt(task.agent_type, str(workspace.root))), ChatMessage("user", task.description)]
            await self._tasks.append_messages(task_id, [m.to_dict() for m in messages])
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
                outcome = await self._handle_call(task, calls[0], context, allowed, hitl)
                result = ChatMessage("tool", outcome.output, tool_call_id=calls[0].id, tool_name=calls[0].name, is_error=not outcome.success)
                messages.append(result)
                await self._tasks.append_messages(task_id, [result.to_dict()])
                continue
            inputs = await self._tasks.take_inputs(task_id)
            if inputs:
                new = [ChatMessage("user", text) for text in inputs]
                messages.extend(new)
                await self._tasks.append_messages(task_id, [m.to_dict() for m in new])
                for text in inputs:
                    await self._reporter.mirror(task, "message", {"role": "user", "content": [{"type": "text", "text": text}]})
            if task.iterations >= task.max_iterations:
                raise RunEnded(FAILED, "Maximum iterations reached", "MAX_ITERATIONS_REACHED")
            await self._tasks.update_task(task_id, {"iterations": task.iterations + 1, "updated_at": self._reporter.now()})
            window = assemble_context(messages, self._config.max_context_messages, self._config.max_context_tokens)
            completion = await self._complete(task_id, provider, model, window, specs)
            reply = ChatMessage("assistant", completion.text, completion.tool_calls)
            messages.append(reply)
            await self._tasks.append_messages(task_id, [reply.to_dict()])
            if completion.text:
                await self._reporter.mirror(task, "message", {"role": "assistant", "content": [{"type": "text", "text": completion.text}]})
            if not completion.tool_calls:
                return RunEnded(COMPLETED, completion.text or "Task completed", success=True)

    async def _complete(self, task_id: str, provider, model: str, window: list[ChatMessage], specs) -> Completion:
        relay = TokenRelay(lambda text: self._reporter.emit(task_id, run_events.Token(content=text)))
        completion: Completion | None = None
        events = within_deadline(
            provider.stream(model, window, specs, max_tokens=self._config.max_output_tokens),
            self._llm.total_timeout_seconds,
            f"{provider.info.id}/{model}",
        )
        try:
            async for event in events:
                if isinstance(event, TokenDelta):
                    relay.push(event.text)
                    self._table.touch(task_id)
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
        return await self._store.switches.get_hitl_settings(session_id)

    async def _plan_approved(self, task_id: str) -> bool:
        return any(a.tool_name == PLAN_TOOL and a.status in (APPROVED, EDITED) for a in await self._store.approvals.list_approvals(task_id))

    async def _handle_call(self, task: TaskRecord, call: ToolCall, context: ToolContext, allowed: list[str], hitl: HitlSettings) -> ToolOutcome:
        """The outcome of one tool call, told as events: refused, switched,
        handed to the client, rejected, or run (after its approval)."""
        if call.arguments_error:
            outcome = ToolOutcome(f"Error: {call.arguments_error}", success=False)
            await self._reporter.tool_result(task, call, outcome)
            return outcome
        plan_gate = hitl.require_plan_approval and not await self._plan_approved(task.task_id)
        route = route_call(
            task.agent_type,
            call,
            allowed,
            plan_gate=plan_gate,
            client_tools={t.name for t in hitl.client_tools},
            dangerous_tools=self._config.hitl_dangerous_tools,
        )
        if route.switch:
            return await self._switch_call(task, call)
        if route.client_side:
            return await self._pauses.client_call(task, call)
        arguments, refusal, note = call.arguments, route.refusal, ""
        if route.needs_approval:
            approval = await self._pauses.approval(task, call, plan=call.name == PLAN_TOOL)
            if approval.status == EDITED:
                arguments = approval.modified_arguments or {}
                refusal = invalid_tool(task.agent_type, call.name, arguments, allowed)
            elif approval.status != APPROVED:
                outcome = ToolOutcome(rejection_output(call.name, approval), success=False)
                await self._reporter.tool_result(task, call, outcome, logged_input=arguments, ran=False)
                return outcome
            note = approved_note(call.name)
        if refusal is not None:
            # Refused, never executed: the model reads why as the tool result.
            outcome = ToolOutcome(f"Error: {refusal}", success=False)
            await self._reporter.tool_result(task, call, outcome, logged_input=arguments, ran=False, code=refusal_code(refusal))
            return outcome
        if call.id in await self._tasks.started_calls(task.task_id):
            outcome = ToolOutcome(
                f"Error: the server restarted while {call.name} ran; its effect is unknown. Check the project state before retrying.",
                success=False,
            )
        else:
            await self._reporter.tool_call(task, call, arguments)
            outcome = await run_tool(call.name, arguments, context, allowed)
            if note and outcome.success:
                outcome.output += note
        await self._reporter.tool_result(task, call, outcome, logged_input=arguments, code=None if outcome.success else "TOOL_EXECUTION_FAILED")
        return outcome

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
            await self._reporter.tool_result(task, call, outcome, code=error.code)
            return outcome
        switch = state.history[-1]
        agent = AGENT_TYPES_BY_NAME[target]
        await self._reporter.emit(
            task.task_id, run_events.AgentSwitched(from_agent=switch.from_agent, to_agent=switch.to_agent, reason=switch.reason, call_id=call.id)
        )
        await self._reporter.mirror(task, "agent_switched", {"from_agent": switch.from_agent, "to_agent": switch.to_agent, "reason": switch.reason})
        outcome = ToolOutcome(
            f"Switched to {agent.name}. You are now {agent.name} ({agent.description}); "
            f"your tools: {', '.join(agent.tools)}; restrictions: {'; '.join(agent.restrictions) or 'none'}. Continue with the user's request."
        )
        await self._reporter.tool_result(task, call, outcome)
        return outcome

    async def _save_plan(self, task_id: str, plan: list[dict[str, str]]) -> None:
        await self._tasks.update_task(task_id, {"plan": plan, "updated_at": self._reporter.now()})
        await self._reporter.emit(task_id, run_events.PlanUpdate(plan={"steps": plan}))

    async def _require(self, task_id: str) -> TaskRecord:
        task = await self._tasks.get_task(task_id)
        if task is None:
            # The session (and its tasks) was deleted under the run.
            raise asyncio.CancelledError()
        return task
