"""SQLite adapter of the agents' AgentSwitchRepository: each multi-agent
session's current agent, its switch history (migration 0006) and the codelab
session profile."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from agent_runtime.agents.models import AgentSwitchRecord, ClientTool, HitlSettings, SessionAgentRecord, SwitchLimitReached
from agent_runtime.storage.sqlite.database import Database


class SqliteAgentSwitchRepository:
    def __init__(self, database: Database):
        self._db = database

    async def get(self, session_id: str) -> SessionAgentRecord | None:
        row = await self._db.fetch_one(
            "SELECT current_agent, previous_agent, switched_at, switch_count FROM session_agents WHERE session_id = ?",
            (session_id,),
        )
        if row is None:
            return None
        rows = await self._db.fetch_all(
            "SELECT from_agent, to_agent, reason, timestamp, task_id FROM agent_switches WHERE session_id = ? ORDER BY position",
            (session_id,),
        )
        history = [AgentSwitchRecord(r["from_agent"], r["to_agent"], r["reason"], r["timestamp"], r["task_id"]) for r in rows]
        return SessionAgentRecord(session_id, row["current_agent"], row["previous_agent"], row["switched_at"], row["switch_count"], history)

    async def switch(
        self, session_id: str, default_agent: str, switch: AgentSwitchRecord, max_switches: int
    ) -> SessionAgentRecord:
        """Records one switch atomically: the count is checked against
        `max_switches` in the same transaction, so concurrent switches cannot
        pass the limit. When the switch names a task, its agent type changes
        with it. An empty `switch.from_agent` is filled in from the stored
        state (a run passes its own agent)."""
        async with self._db.transaction() as tx:
            row = await tx.fetch_one("SELECT current_agent, switch_count FROM session_agents WHERE session_id = ?", (session_id,))
            current = row["current_agent"] if row else default_agent
            count = row["switch_count"] if row else 0
            if count >= max_switches:
                raise SwitchLimitReached()
            switch.from_agent = switch.from_agent or current
            await tx.execute(
                "INSERT INTO session_agents (session_id, current_agent, previous_agent, switched_at, switch_count)"
                " VALUES (?, ?, ?, ?, 1) ON CONFLICT (session_id) DO UPDATE SET current_agent = excluded.current_agent,"
                " previous_agent = excluded.previous_agent, switched_at = excluded.switched_at,"
                " switch_count = session_agents.switch_count + 1",
                (session_id, switch.to_agent, switch.from_agent, switch.timestamp),
            )
            await tx.execute(
                "INSERT INTO agent_switches (session_id, position, from_agent, to_agent, reason, task_id, timestamp)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, count, switch.from_agent, switch.to_agent, switch.reason, switch.task_id, switch.timestamp),
            )
            if switch.task_id:
                await tx.execute("UPDATE agent_tasks SET agent_type = ? WHERE task_id = ?", (switch.to_agent, switch.task_id))
        record = await self.get(session_id)
        assert record is not None
        return record

    # Codelab session profiles

    async def put_profile(
        self, session_id: str, user_id: str, metadata: dict[str, Any], hitl: HitlSettings | None = None
    ) -> None:
        hitl = hitl or HitlSettings()
        client_tools = [dataclasses.asdict(tool) for tool in hitl.client_tools]
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO session_profiles (session_id, user_id, metadata, client_tools, require_plan_approval)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    session_id,
                    user_id,
                    json.dumps(metadata, ensure_ascii=False),
                    json.dumps(client_tools, ensure_ascii=False),
                    int(hitl.require_plan_approval),
                ),
            )

    async def get_profile(self, session_id: str) -> tuple[str, dict[str, Any]] | None:
        row = await self._db.fetch_one("SELECT user_id, metadata FROM session_profiles WHERE session_id = ?", (session_id,))
        return (row["user_id"], json.loads(row["metadata"])) if row else None

    async def get_hitl_settings(self, session_id: str) -> HitlSettings:
        """The session's settings; the defaults (no client tools, plans run
        unasked) for sessions that are not codelab ones."""
        row = await self._db.fetch_one(
            "SELECT client_tools, require_plan_approval FROM session_profiles WHERE session_id = ?", (session_id,)
        )
        if row is None:
            return HitlSettings()
        return HitlSettings([ClientTool(**tool) for tool in json.loads(row["client_tools"])], bool(row["require_plan_approval"]))
