"""SQLite adapter of the agents' TaskRepository: tasks, their conversation,
run events and queued input."""

from __future__ import annotations

import json
from typing import Any

from agent_runtime.agents.models import TaskEventRecord, TaskRecord
from agent_runtime.storage.sqlite.agents.rows import TASK_COLUMNS, check_lease, dumps, lease_guard, lease_predicate, task_from_row, task_values
from agent_runtime.sessions.models import AppendGuard
from agent_runtime.storage.sqlite.database import Database


class SqliteTaskRepository:
    def __init__(self, database: Database):
        self._db = database

    # Tasks

    async def create_task(self, task: TaskRecord, messages: list[dict[str, Any]]) -> None:
        placeholders = ", ".join("?" for _ in TASK_COLUMNS)
        async with self._db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO agent_tasks ({', '.join(TASK_COLUMNS)}) VALUES ({placeholders})",
                tuple(task_values(task, TASK_COLUMNS)),
            )
            for position, message in enumerate(messages):
                await tx.execute(
                    "INSERT INTO agent_task_messages (task_id, position, message) VALUES (?, ?, ?)",
                    (task.task_id, position, dumps(message)),
                )

    async def get_task(self, task_id: str) -> TaskRecord | None:
        row = await self._db.fetch_one(f"SELECT {', '.join(TASK_COLUMNS)} FROM agent_tasks WHERE task_id = ?", (task_id,))
        return task_from_row(row) if row else None

    async def list_tasks(self, session_id: str) -> list[TaskRecord]:
        rows = await self._db.fetch_all(
            f"SELECT {', '.join(TASK_COLUMNS)} FROM agent_tasks WHERE session_id = ? ORDER BY created_at, task_id",
            (session_id,),
        )
        return [task_from_row(row) for row in rows]

    async def task_counts(self) -> dict[str, int]:
        rows = await self._db.fetch_all("SELECT session_id, COUNT(*) AS n FROM agent_tasks GROUP BY session_id")
        return {row["session_id"]: row["n"] for row in rows}

    async def tasks_with_status(self, statuses: tuple[str, ...]) -> list[TaskRecord]:
        marks = ", ".join("?" for _ in statuses)
        rows = await self._db.fetch_all(
            f"SELECT {', '.join(TASK_COLUMNS)} FROM agent_tasks WHERE status IN ({marks}) ORDER BY created_at", statuses
        )
        return [task_from_row(row) for row in rows]

    async def update_task(self, task_id: str, changes: dict[str, Any], *, only_if_status: tuple[str, ...] = ()) -> bool:
        """Changes columns; with only_if_status, only while the task has one
        of those statuses. True when a row changed. Fenced by the run's
        lease (agents.ports.run_lease)."""
        columns = list(changes)
        probe = TaskRecord("", "", "", "", "", "", 0, "", "")
        for column in columns:
            setattr(probe, column, changes[column])
        sql = f"UPDATE agent_tasks SET {', '.join(f'{c} = ?' for c in columns)} WHERE task_id = ?"
        parameters = [*task_values(probe, columns), task_id]
        if only_if_status:
            sql += f" AND status IN ({', '.join('?' for _ in only_if_status)})"
            parameters += list(only_if_status)
        fence, fence_parameters = lease_predicate(task_id)
        async with self._db.transaction() as tx:
            cursor = await tx.execute(sql + fence, (*parameters, *fence_parameters))
            if cursor.rowcount == 0 and fence:
                # Unchanged: was it the status, or the lease?
                await check_lease(tx, task_id)
            return cursor.rowcount > 0

    def lease_guard(self, task_id: str) -> AppendGuard | None:
        return lease_guard(task_id)

    # Conversation

    async def append_messages(self, task_id: str, messages: list[dict[str, Any]]) -> None:
        async with self._db.transaction() as tx:
            await check_lease(tx, task_id)
            row = await tx.fetch_one("SELECT COALESCE(MAX(position), -1) AS p FROM agent_task_messages WHERE task_id = ?", (task_id,))
            position = row["p"] + 1
            for offset, message in enumerate(messages):
                await tx.execute(
                    "INSERT INTO agent_task_messages (task_id, position, message) VALUES (?, ?, ?)",
                    (task_id, position + offset, dumps(message)),
                )

    async def list_messages(self, task_id: str) -> list[dict[str, Any]]:
        rows = await self._db.fetch_all(
            "SELECT message FROM agent_task_messages WHERE task_id = ? ORDER BY position", (task_id,)
        )
        return [json.loads(row["message"]) for row in rows]

    # Events

    async def append_event(self, task_id: str, type: str, body: dict[str, Any], now: str) -> TaskEventRecord | None:
        """Appends with the next sequence number; None when the task is gone.
        Fenced by the run's lease."""
        fence, fence_parameters = lease_predicate(task_id)
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(f"SELECT last_event_sequence FROM agent_tasks WHERE task_id = ?{fence}", (task_id, *fence_parameters))
            if row is None:
                await check_lease(tx, task_id)
                return None
            sequence = row["last_event_sequence"] + 1
            await tx.execute(
                "INSERT INTO agent_task_events (task_id, sequence, type, body) VALUES (?, ?, ?, ?)",
                (task_id, sequence, type, dumps(body)),
            )
            await tx.execute(
                "UPDATE agent_tasks SET last_event_sequence = ?, updated_at = ? WHERE task_id = ?", (sequence, now, task_id)
            )
        return TaskEventRecord(task_id, sequence, type, body)

    async def list_events(self, task_id: str, after_sequence: int, limit: int) -> list[TaskEventRecord]:
        rows = await self._db.fetch_all(
            "SELECT sequence, type, body FROM agent_task_events WHERE task_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
            (task_id, after_sequence, limit if limit > 0 else -1),
        )
        return [TaskEventRecord(task_id, row["sequence"], row["type"], json.loads(row["body"])) for row in rows]

    # Inputs

    async def add_input(self, task_id: str, content: str, now: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO agent_task_inputs (task_id, content, created_at) VALUES (?, ?, ?)", (task_id, content, now)
            )

    async def take_inputs(self, task_id: str) -> list[str]:
        async with self._db.transaction() as tx:
            await check_lease(tx, task_id)
            cursor = await tx.execute(
                "SELECT input_id, content FROM agent_task_inputs WHERE task_id = ? AND consumed = 0 ORDER BY input_id",
                (task_id,),
            )
            rows = list(await cursor.fetchall())
            if rows:
                await tx.execute(
                    f"UPDATE agent_task_inputs SET consumed = 1 WHERE input_id IN ({', '.join('?' for _ in rows)})",
                    tuple(row["input_id"] for row in rows),
                )
        return [row["content"] for row in rows]

    async def started_calls(self, task_id: str) -> set[str]:
        """Tool call ids whose execution began (a `tool_call` event exists)."""
        rows = await self._db.fetch_all(
            "SELECT json_extract(body, '$.call_id') AS call_id FROM agent_task_events WHERE task_id = ? AND type = 'tool_call'",
            (task_id,),
        )
        return {row["call_id"] for row in rows if row["call_id"]}
