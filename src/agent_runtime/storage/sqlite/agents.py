"""Agent task repository: tasks, conversation, run events, inputs,
approvals, artifacts and idempotency keys. The interface and its SQLite
implementation."""

from __future__ import annotations

import json
from typing import Any, Protocol

from agent_runtime.agents.models import (
    ANSWERED,
    PENDING,
    RUNNING,
    WAITING_APPROVAL,
    ApprovalRecord,
    ArtifactRecord,
    ClientCallRecord,
    TaskEventRecord,
    TaskRecord,
)
from agent_runtime.storage.sqlite.database import Database

_JSON_TASK_FIELDS = {"tools", "context", "plan"}
_BOOL_TASK_FIELDS = {"result_success", "stop_requested"}
_TASK_COLUMNS = [f.name for f in TaskRecord.__dataclass_fields__.values()]
_APPROVAL_COLUMNS = [f.name for f in ApprovalRecord.__dataclass_fields__.values()]
_CLIENT_CALL_COLUMNS = [f.name for f in ClientCallRecord.__dataclass_fields__.values()]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _task_values(task: TaskRecord, columns: list[str]) -> list[Any]:
    values = []
    for column in columns:
        value = getattr(task, column)
        if column in _JSON_TASK_FIELDS:
            value = None if value is None else _dumps(value)
        elif column in _BOOL_TASK_FIELDS and value is not None:
            value = int(value)
        values.append(value)
    return values


def _task(row) -> TaskRecord:
    values = {}
    for column in _TASK_COLUMNS:
        value = row[column]
        if column in _JSON_TASK_FIELDS and value is not None:
            value = json.loads(value)
        elif column in _BOOL_TASK_FIELDS and value is not None:
            value = bool(value)
        values[column] = value
    return TaskRecord(**values)


def _approval(row) -> ApprovalRecord:
    values = {column: row[column] for column in _APPROVAL_COLUMNS}
    values["arguments"] = json.loads(values["arguments"])
    if values["modified_arguments"] is not None:
        values["modified_arguments"] = json.loads(values["modified_arguments"])
    return ApprovalRecord(**values)


def _client_call(row) -> ClientCallRecord:
    values = {column: row[column] for column in _CLIENT_CALL_COLUMNS}
    values["arguments"] = json.loads(values["arguments"])
    values["is_error"] = bool(values["is_error"])
    return ClientCallRecord(**values)


async def _pause_task(tx, task_id: str, now: str) -> bool:
    """A running task becomes `waiting_approval`; True when it changed."""
    cursor = await tx.execute(
        "UPDATE agent_tasks SET status = ?, updated_at = ? WHERE task_id = ? AND status = ?",
        (WAITING_APPROVAL, now, task_id, RUNNING),
    )
    return cursor.rowcount > 0


class AgentRepository(Protocol):
    async def create_task(self, task: TaskRecord, messages: list[dict[str, Any]]) -> None: ...
    async def get_task(self, task_id: str) -> TaskRecord | None: ...
    async def list_tasks(self, session_id: str) -> list[TaskRecord]: ...
    async def task_counts(self) -> dict[str, int]: ...
    async def tasks_with_status(self, statuses: tuple[str, ...]) -> list[TaskRecord]: ...
    async def update_task(self, task_id: str, changes: dict[str, Any], *, only_if_status: tuple[str, ...] = ()) -> bool: ...
    async def append_messages(self, task_id: str, messages: list[dict[str, Any]]) -> None: ...
    async def list_messages(self, task_id: str) -> list[dict[str, Any]]: ...
    async def append_event(self, task_id: str, type: str, body: dict[str, Any], now: str) -> TaskEventRecord | None: ...
    async def list_events(self, task_id: str, after_sequence: int, limit: int) -> list[TaskEventRecord]: ...
    async def add_input(self, task_id: str, content: str, now: str) -> None: ...
    async def take_inputs(self, task_id: str) -> list[str]: ...
    async def create_approval(self, approval: ApprovalRecord, now: str) -> tuple[ApprovalRecord, bool]: ...
    async def get_approval(self, approval_id: str) -> ApprovalRecord | None: ...
    async def list_approvals(self, task_id: str, status: str = "") -> list[ApprovalRecord]: ...
    async def resolve_approval(self, approval_id: str, changes: dict[str, Any]) -> ApprovalRecord | None: ...
    async def session_approvals(self, session_id: str, status: str = "", call_id: str = "") -> list[ApprovalRecord]: ...
    async def create_client_call(self, call: ClientCallRecord, now: str) -> tuple[ClientCallRecord, bool, bool]: ...
    async def get_client_call(self, task_id: str, call_id: str) -> ClientCallRecord | None: ...
    async def session_client_calls(self, session_id: str, call_id: str = "") -> list[ClientCallRecord]: ...
    async def answer_client_call(self, task_id: str, call_id: str, result: str, is_error: bool, now: str) -> bool: ...
    async def put_artifact(self, artifact: ArtifactRecord) -> None: ...
    async def list_artifacts(self, task_id: str) -> list[ArtifactRecord]: ...
    async def get_artifact(self, task_id: str, id_or_name: str) -> ArtifactRecord | None: ...
    async def get_idempotent(self, owner: str, scope: str, key: str, not_before: str) -> tuple[str, bytes] | None: ...
    async def put_idempotent(self, owner: str, scope: str, key: str, request_hash: str, response: bytes, now: str) -> None: ...
    async def purge_idempotent(self, before: str) -> int: ...
    async def started_calls(self, task_id: str) -> set[str]: ...


class SqliteAgentRepository:
    def __init__(self, database: Database):
        self._db = database

    # Tasks

    async def create_task(self, task: TaskRecord, messages: list[dict[str, Any]]) -> None:
        placeholders = ", ".join("?" for _ in _TASK_COLUMNS)
        async with self._db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO agent_tasks ({', '.join(_TASK_COLUMNS)}) VALUES ({placeholders})",
                tuple(_task_values(task, _TASK_COLUMNS)),
            )
            for position, message in enumerate(messages):
                await tx.execute(
                    "INSERT INTO agent_task_messages (task_id, position, message) VALUES (?, ?, ?)",
                    (task.task_id, position, _dumps(message)),
                )

    async def get_task(self, task_id: str) -> TaskRecord | None:
        row = await self._db.fetch_one(f"SELECT {', '.join(_TASK_COLUMNS)} FROM agent_tasks WHERE task_id = ?", (task_id,))
        return _task(row) if row else None

    async def list_tasks(self, session_id: str) -> list[TaskRecord]:
        rows = await self._db.fetch_all(
            f"SELECT {', '.join(_TASK_COLUMNS)} FROM agent_tasks WHERE session_id = ? ORDER BY created_at, task_id",
            (session_id,),
        )
        return [_task(row) for row in rows]

    async def task_counts(self) -> dict[str, int]:
        rows = await self._db.fetch_all("SELECT session_id, COUNT(*) AS n FROM agent_tasks GROUP BY session_id")
        return {row["session_id"]: row["n"] for row in rows}

    async def tasks_with_status(self, statuses: tuple[str, ...]) -> list[TaskRecord]:
        marks = ", ".join("?" for _ in statuses)
        rows = await self._db.fetch_all(
            f"SELECT {', '.join(_TASK_COLUMNS)} FROM agent_tasks WHERE status IN ({marks}) ORDER BY created_at", statuses
        )
        return [_task(row) for row in rows]

    async def update_task(self, task_id: str, changes: dict[str, Any], *, only_if_status: tuple[str, ...] = ()) -> bool:
        """Changes columns; with only_if_status, only while the task has one
        of those statuses. True when a row changed."""
        columns = list(changes)
        probe = TaskRecord("", "", "", "", "", "", 0, "", "")
        for column in columns:
            setattr(probe, column, changes[column])
        sql = f"UPDATE agent_tasks SET {', '.join(f'{c} = ?' for c in columns)} WHERE task_id = ?"
        parameters = [*_task_values(probe, columns), task_id]
        if only_if_status:
            sql += f" AND status IN ({', '.join('?' for _ in only_if_status)})"
            parameters += list(only_if_status)
        async with self._db.transaction() as tx:
            cursor = await tx.execute(sql, tuple(parameters))
            return cursor.rowcount > 0

    # Conversation

    async def append_messages(self, task_id: str, messages: list[dict[str, Any]]) -> None:
        async with self._db.transaction() as tx:
            row = await tx.fetch_one("SELECT COALESCE(MAX(position), -1) AS p FROM agent_task_messages WHERE task_id = ?", (task_id,))
            position = row["p"] + 1
            for offset, message in enumerate(messages):
                await tx.execute(
                    "INSERT INTO agent_task_messages (task_id, position, message) VALUES (?, ?, ?)",
                    (task_id, position + offset, _dumps(message)),
                )

    async def list_messages(self, task_id: str) -> list[dict[str, Any]]:
        rows = await self._db.fetch_all(
            "SELECT message FROM agent_task_messages WHERE task_id = ? ORDER BY position", (task_id,)
        )
        return [json.loads(row["message"]) for row in rows]

    # Events

    async def append_event(self, task_id: str, type: str, body: dict[str, Any], now: str) -> TaskEventRecord | None:
        """Appends with the next sequence number; None when the task is gone."""
        async with self._db.transaction() as tx:
            row = await tx.fetch_one("SELECT last_event_sequence FROM agent_tasks WHERE task_id = ?", (task_id,))
            if row is None:
                return None
            sequence = row["last_event_sequence"] + 1
            await tx.execute(
                "INSERT INTO agent_task_events (task_id, sequence, type, body) VALUES (?, ?, ?, ?)",
                (task_id, sequence, type, _dumps(body)),
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

    # Approvals

    async def create_approval(self, approval: ApprovalRecord, now: str) -> tuple[ApprovalRecord, bool]:
        """Inserts, or finds the existing approval of the same tool call.
        While it is pending, its running task becomes `waiting_approval` in
        the same transaction, so nobody (a crash included) sees one without
        the other. The flag says whether the task was paused just now."""
        values = []
        for column in _APPROVAL_COLUMNS:
            value = getattr(approval, column)
            if column in ("arguments", "modified_arguments") and value is not None:
                value = _dumps(value)
            values.append(value)
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                f"SELECT {', '.join(_APPROVAL_COLUMNS)} FROM tool_approvals WHERE task_id = ? AND call_id = ?",
                (approval.task_id, approval.call_id),
            )
            if row is not None:
                approval = _approval(row)
            else:
                await tx.execute(
                    f"INSERT INTO tool_approvals ({', '.join(_APPROVAL_COLUMNS)}) VALUES ({', '.join('?' for _ in values)})",
                    tuple(values),
                )
            paused = approval.status == PENDING and await _pause_task(tx, approval.task_id, now)
        return approval, paused

    async def get_approval(self, approval_id: str) -> ApprovalRecord | None:
        row = await self._db.fetch_one(
            f"SELECT {', '.join(_APPROVAL_COLUMNS)} FROM tool_approvals WHERE approval_id = ?", (approval_id,)
        )
        return _approval(row) if row else None

    async def list_approvals(self, task_id: str, status: str = "") -> list[ApprovalRecord]:
        sql = f"SELECT {', '.join(_APPROVAL_COLUMNS)} FROM tool_approvals WHERE task_id = ?"
        parameters: tuple = (task_id,)
        if status:
            sql += " AND status = ?"
            parameters += (status,)
        rows = await self._db.fetch_all(sql + " ORDER BY created_at, approval_id", parameters)
        return [_approval(row) for row in rows]

    async def resolve_approval(self, approval_id: str, changes: dict[str, Any]) -> ApprovalRecord | None:
        """Applies a decision only while the approval is pending; None when
        it was already resolved (the caller answers 409)."""
        values = [(_dumps(v) if k == "modified_arguments" and v is not None else v) for k, v in changes.items()]
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                f"UPDATE tool_approvals SET {', '.join(f'{k} = ?' for k in changes)} WHERE approval_id = ? AND status = ?",
                (*values, approval_id, PENDING),
            )
            if cursor.rowcount == 0:
                return None
            row = await tx.fetch_one(
                f"SELECT {', '.join(_APPROVAL_COLUMNS)} FROM tool_approvals WHERE approval_id = ?", (approval_id,)
            )
        return _approval(row)

    async def session_approvals(self, session_id: str, status: str = "", call_id: str = "") -> list[ApprovalRecord]:
        """Approvals of every task of a session, oldest first; narrowed to a
        status and to one tool call id when given."""
        columns = ", ".join(f"a.{c}" for c in _APPROVAL_COLUMNS)
        sql = f"SELECT {columns} FROM tool_approvals a JOIN agent_tasks t ON t.task_id = a.task_id WHERE t.session_id = ?"
        parameters: tuple = (session_id,)
        if status:
            sql += " AND a.status = ?"
            parameters += (status,)
        if call_id:
            sql += " AND a.call_id = ?"
            parameters += (call_id,)
        rows = await self._db.fetch_all(sql + " ORDER BY a.created_at, a.approval_id", parameters)
        return [_approval(row) for row in rows]

    # Client-side tool calls

    async def create_client_call(self, call: ClientCallRecord, now: str) -> tuple[ClientCallRecord, bool, bool]:
        """Inserts, or finds the stored call of the same id; while it is
        pending, its running task becomes `waiting_approval` in the same
        transaction. The flags: whether the call is new, and whether the
        task was paused just now."""
        values = [
            _dumps(getattr(call, c)) if c == "arguments" else int(call.is_error) if c == "is_error" else getattr(call, c)
            for c in _CLIENT_CALL_COLUMNS
        ]
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                f"SELECT {', '.join(_CLIENT_CALL_COLUMNS)} FROM client_tool_calls WHERE task_id = ? AND call_id = ?",
                (call.task_id, call.call_id),
            )
            created = row is None
            if created:
                await tx.execute(
                    f"INSERT INTO client_tool_calls ({', '.join(_CLIENT_CALL_COLUMNS)}) VALUES ({', '.join('?' for _ in values)})",
                    tuple(values),
                )
            else:
                call = _client_call(row)
            paused = call.status == PENDING and await _pause_task(tx, call.task_id, now)
        return call, created, paused

    async def get_client_call(self, task_id: str, call_id: str) -> ClientCallRecord | None:
        row = await self._db.fetch_one(
            f"SELECT {', '.join(_CLIENT_CALL_COLUMNS)} FROM client_tool_calls WHERE task_id = ? AND call_id = ?",
            (task_id, call_id),
        )
        return _client_call(row) if row else None

    async def session_client_calls(self, session_id: str, call_id: str = "") -> list[ClientCallRecord]:
        columns = ", ".join(f"c.{c}" for c in _CLIENT_CALL_COLUMNS)
        sql = f"SELECT {columns} FROM client_tool_calls c JOIN agent_tasks t ON t.task_id = c.task_id WHERE t.session_id = ?"
        parameters: tuple = (session_id,)
        if call_id:
            sql += " AND c.call_id = ?"
            parameters += (call_id,)
        rows = await self._db.fetch_all(sql + " ORDER BY c.created_at", parameters)
        return [_client_call(row) for row in rows]

    async def answer_client_call(self, task_id: str, call_id: str, result: str, is_error: bool, now: str) -> bool:
        """Stores the client's result while the call is pending; False when
        it was answered already."""
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE client_tool_calls SET status = ?, result = ?, is_error = ?, answered_at = ?"
                " WHERE task_id = ? AND call_id = ? AND status = ?",
                (ANSWERED, result, int(is_error), now, task_id, call_id, PENDING),
            )
            return cursor.rowcount > 0

    # Artifacts

    async def put_artifact(self, artifact: ArtifactRecord) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM task_artifacts WHERE task_id = ? AND name = ?", (artifact.task_id, artifact.name))
            await tx.execute(
                "INSERT INTO task_artifacts (artifact_id, task_id, name, type, content_type, content, size, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    artifact.artifact_id,
                    artifact.task_id,
                    artifact.name,
                    artifact.type,
                    artifact.content_type,
                    artifact.content,
                    artifact.size,
                    artifact.created_at,
                ),
            )

    async def list_artifacts(self, task_id: str) -> list[ArtifactRecord]:
        rows = await self._db.fetch_all(
            "SELECT artifact_id, task_id, name, type, content_type, size, created_at FROM task_artifacts"
            " WHERE task_id = ? ORDER BY created_at, name",
            (task_id,),
        )
        return [ArtifactRecord(**{k: row[k] for k in row.keys()}) for row in rows]

    async def get_artifact(self, task_id: str, id_or_name: str) -> ArtifactRecord | None:
        row = await self._db.fetch_one(
            "SELECT artifact_id, task_id, name, type, content_type, size, created_at, content FROM task_artifacts"
            " WHERE task_id = ? AND (artifact_id = ? OR name = ?)",
            (task_id, id_or_name, id_or_name),
        )
        return ArtifactRecord(**{k: row[k] for k in row.keys()}) if row else None

    # Idempotency keys

    async def get_idempotent(self, owner: str, scope: str, key: str, not_before: str) -> tuple[str, bytes] | None:
        row = await self._db.fetch_one(
            "SELECT request_hash, response FROM idempotency_keys"
            " WHERE owner = ? AND scope = ? AND idempotency_key = ? AND created_at >= ?",
            (owner, scope, key, not_before),
        )
        return (row["request_hash"], bytes(row["response"])) if row else None

    async def put_idempotent(self, owner: str, scope: str, key: str, request_hash: str, response: bytes, now: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT OR REPLACE INTO idempotency_keys (owner, scope, idempotency_key, request_hash, response, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (owner, scope, key, request_hash, response, now),
            )

    async def started_calls(self, task_id: str) -> set[str]:
        return await started_calls(self._db, task_id)

    async def purge_idempotent(self, before: str) -> int:
        async with self._db.transaction() as tx:
            cursor = await tx.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (before,))
            return cursor.rowcount


async def started_calls(database: Database, task_id: str) -> set[str]:
    """Tool call ids whose execution began (a `tool_call` event exists)."""
    rows = await database.fetch_all(
        "SELECT json_extract(body, '$.call_id') AS call_id FROM agent_task_events WHERE task_id = ? AND type = 'tool_call'",
        (task_id,),
    )
    return {row["call_id"] for row in rows if row["call_id"]}
