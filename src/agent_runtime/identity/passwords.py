"""Password hashing with argon2id (argon2-cffi; by default RFC 9106's
low-memory profile). Hashing runs in a thread: it takes tens of milliseconds
and 64 MiB by design."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, memory_kib: int, passes: int):
        self._hasher = PasswordHasher(time_cost=passes, memory_cost=memory_kib)
        # Verified against when the email is unknown, so that both failures
        # take the same time; made at the first such login, not at start.
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def check() -> bool:
            if password_hash is None and self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash("not-a-real-password")
            try:
                return self._hasher.verify(password_hash or self._dummy_hash, password) and password_hash is not None
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)
