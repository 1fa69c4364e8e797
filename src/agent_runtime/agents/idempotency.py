"""Idempotency-Key handling: the same key with the same request returns the
stored original response; the same key with a different request is a 409.
Records are durable and kept for 24 hours."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from typing import Awaitable, Callable

from agent_runtime.clock import Clock, iso, utc_now
from agent_runtime.errors import Conflict, InvalidArgument
from agent_runtime.agents.ports import IdempotencyRepository

RETENTION = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255


class IdempotencyKeys:
    def __init__(self, repository: IdempotencyRepository, clock: Clock = utc_now):
        self._repo = repository
        self._clock = clock
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    async def run(
        self, owner: str, scope: str, key: str | None, request: bytes, operation: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        """The response bytes of `operation`, run at most once per key."""
        if not key:
            return await operation()
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise InvalidArgument(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters")
        digest = hashlib.sha256(request).hexdigest()
        slot = (owner, scope, key)
        lock = self._locks.setdefault(slot, asyncio.Lock())
        try:
            async with lock:
                now = self._clock()
                found = await self._repo.get_idempotent(owner, scope, key, iso(now - RETENTION))
                if found is not None:
                    stored_hash, response = found
                    if stored_hash != digest:
                        raise Conflict(
                            "Idempotency-Key was already used with a different request; use a new key",
                            code="IDEMPOTENCY_KEY_REUSED",
                        )
                    return response
                response = await operation()
                await self._repo.put_idempotent(owner, scope, key, digest, response, iso(self._clock()))
                return response
        finally:
            if not lock.locked() and not lock._waiters:  # type: ignore[attr-defined]
                self._locks.pop(slot, None)

    async def purge(self) -> int:
        return await self._repo.purge_idempotent(iso(self._clock() - RETENTION))
