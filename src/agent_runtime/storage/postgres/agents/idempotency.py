"""Idempotency keys on PostgreSQL."""

from __future__ import annotations

from agent_runtime.storage.sqlite.agents.idempotency import SqliteIdempotencyRepository


class PostgresIdempotencyRepository(SqliteIdempotencyRepository):
    async def put_idempotent(self, owner: str, scope: str, key: str, request_hash: str, response: bytes, now: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO idempotency_keys (owner, scope, idempotency_key, request_hash, response, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (owner, scope, idempotency_key) DO UPDATE SET"
                " request_hash = excluded.request_hash, response = excluded.response, created_at = excluded.created_at",
                (owner, scope, key, request_hash, response, now),
            )
