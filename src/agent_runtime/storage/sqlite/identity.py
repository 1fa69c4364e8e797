"""The identity domain's port (identity/ports.py) on SQLite."""

from __future__ import annotations

from agent_runtime.identity.models import ApiKeyRecord, UserRecord
from agent_runtime.storage.sqlite.database import Database

_USER_COLUMNS = "user_id, email, name, username, password_hash, created_at"
_KEY_COLUMNS = "key_id, user_id, name, key_hash, prefix, created_at, expires_at, revoked_at, last_used_at"


def _user(row) -> UserRecord:
    return UserRecord(**{key: row[key] for key in row.keys()})


def _key(row) -> ApiKeyRecord:
    return ApiKeyRecord(**{key: row[key] for key in row.keys()})


class SqliteIdentityRepository:
    def __init__(self, database: Database):
        self._db = database

    async def create_user(self, user: UserRecord) -> bool:
        # The unique email decides (not a read first: concurrent
        # registrations on two PostgreSQL connections would both read none).
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                f"INSERT INTO users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
                (user.user_id, user.email, user.name, user.username, user.password_hash, user.created_at),
            )
            return cursor.rowcount > 0

    async def get_user(self, user_id: str) -> UserRecord | None:
        row = await self._db.fetch_one(f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = ?", (user_id,))
        return _user(row) if row else None

    async def find_user_by_email(self, email: str) -> UserRecord | None:
        row = await self._db.fetch_one(f"SELECT {_USER_COLUMNS} FROM users WHERE email = ?", (email,))
        return _user(row) if row else None

    async def list_users(self, user_id: str | None = None) -> list[UserRecord]:
        if user_id is None:
            rows = await self._db.fetch_all(f"SELECT {_USER_COLUMNS} FROM users ORDER BY created_at, user_id")
        else:
            rows = await self._db.fetch_all(f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = ?", (user_id,))
        return [_user(row) for row in rows]

    async def create_api_key(self, key: ApiKeyRecord) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key.key_id,
                    key.user_id,
                    key.name,
                    key.key_hash,
                    key.prefix,
                    key.created_at,
                    key.expires_at,
                    key.revoked_at,
                    key.last_used_at,
                ),
            )

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        row = await self._db.fetch_one(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?", (key_hash,))
        return _key(row) if row else None

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self._db.fetch_one(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
        return _key(row) if row else None

    async def list_api_keys(self, owner: str | None) -> list[ApiKeyRecord]:
        if owner is None:
            rows = await self._db.fetch_all(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at DESC, key_id")
        else:
            rows = await self._db.fetch_all(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE user_id = ? ORDER BY created_at DESC, key_id", (owner,)
            )
        return [_key(row) for row in rows]

    async def revoke_api_key(self, key_id: str, now: str) -> ApiKeyRecord | None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (now, key_id)
            )
            row = await tx.fetch_one(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
        return _key(row) if row else None

    async def touch_api_key(self, key_id: str, now: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("UPDATE api_keys SET last_used_at = ? WHERE key_id = ?", (now, key_id))
