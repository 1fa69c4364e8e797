"""SQLite adapter of the agents' IdempotencyRepository."""

from __future__ import annotations

from agent_runtime.storage.sqlite.database import Database


class SqliteIdempotencyRepository:
    def __init__(self, database: Database):
        self._db = database

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

    async def purge_idempotent(self, before: str) -> int:
        async with self._db.transaction() as tx:
            cursor = await tx.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (before,))
            return cursor.rowcount
