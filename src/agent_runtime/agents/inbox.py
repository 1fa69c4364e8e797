"""What waits on a person across every session they may see (the console's
inbox, `GET /api/inbox`): the approvals of tool calls and plans, and the
calls of client-side tools, of the runs that are paused for them. Read from
storage, so an inbox opened after a restart shows the same items."""

from __future__ import annotations

import dataclasses
from typing import Any

from agent_runtime.agents.approvals import PLAN_TOOL
from agent_runtime.agents.models import PENDING, WAITING_APPROVAL
from agent_runtime.agents.ports import AgentStore
from agent_runtime.identity.models import visible

APPROVAL, PLAN, CLIENT_TOOL = "approval", "plan", "client_tool"


@dataclasses.dataclass(frozen=True)
class InboxItem:
    session_id: str
    task_id: str
    call_id: str
    # APPROVAL, PLAN or CLIENT_TOOL.
    kind: str
    tool_name: str
    arguments: dict[str, Any]
    reason: str
    created_at: str


class Inbox:
    def __init__(self, store: AgentStore):
        self._store = store

    async def items(self, *, scope: str | None = None) -> list[InboxItem]:
        """Every pending item of the caller's paused runs, oldest first.
        Only paused runs can have one, so this reads those runs and not
        every session."""
        paused = await self._store.tasks.tasks_with_status((WAITING_APPROVAL,))
        items: list[InboxItem] = []
        for task in (task for task in paused if visible(task.owner, scope)):
            for approval in await self._store.approvals.list_approvals(task.task_id, PENDING):
                kind = PLAN if approval.tool_name == PLAN_TOOL else APPROVAL
                items.append(
                    InboxItem(
                        task.session_id, task.task_id, approval.call_id, kind, approval.tool_name,
                        approval.arguments, approval.reason, approval.created_at,
                    )
                )
            for call in await self._store.client_calls.session_client_calls(task.session_id):
                if call.task_id == task.task_id and call.status == PENDING:
                    items.append(
                        InboxItem(
                            task.session_id, task.task_id, call.call_id, CLIENT_TOOL, call.tool_name,
                            call.arguments, "", call.created_at,
                        )
                    )
        return sorted(items, key=lambda item: item.created_at)
