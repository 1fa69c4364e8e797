"""The identity domain's storage port: users and API keys. Adapters
(storage/<engine>/identity.py) implement it and pass the repository
contract suite (tests/contract/)."""

from __future__ import annotations

from typing import Protocol

from agent_runtime.identity.models import ApiKeyRecord, RateWindow, UserRecord


class IdentityRepository(Protocol):
    async def create_user(self, user: UserRecord) -> bool:
        """Stores a new user; False (nothing stored) when the email is taken."""
        ...

    async def get_user(self, user_id: str) -> UserRecord | None: ...

    async def find_user_by_email(self, email: str) -> UserRecord | None: ...

    async def list_users(self, user_id: str | None = None) -> list[UserRecord]:
        """Every user in order of creation, or only the one with `user_id`."""
        ...

    async def create_api_key(self, key: ApiKeyRecord) -> None: ...

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None: ...

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    async def list_api_keys(self, owner: str | None) -> list[ApiKeyRecord]:
        """Keys of one user, newest first; every key when owner is None."""
        ...

    async def revoke_api_key(self, key_id: str, now: str) -> ApiKeyRecord | None:
        """Sets revoked_at unless the key was revoked already (the first time
        stays); the key as it is then, None when it is missing."""
        ...

    async def touch_api_key(self, key_id: str, now: str) -> None:
        """Records `now` as the key's last use."""
        ...


class SigningKeyStore(Protocol):
    """The JWT signing key every server process on the database shares."""

    async def signing_key(self) -> bytes:
        """The stored key, created on first use: of processes asking at
        once, all get the same key."""
        ...


class RateWindows(Protocol):
    """Fixed-window request counts per bucket (identity/ratelimit.py)."""

    async def count(self, bucket: str, window_seconds: float, *, count: bool = True) -> RateWindow:
        """Counts one request in the bucket's window (a new window starts
        when the last one is over); with count=False only reads it (a bucket
        without a current window reads as a new, empty one)."""
        ...
