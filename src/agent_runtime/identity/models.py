"""Plain records of the identity domain."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class UserRecord:
    user_id: str
    email: str
    name: str
    username: str
    password_hash: str
    created_at: str


@dataclasses.dataclass
class ApiKeyRecord:
    key_id: str
    # None: issued by an administrator credential; the key is an admin key.
    user_id: str | None
    name: str
    key_hash: str
    prefix: str
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None
    last_used_at: str | None = None


@dataclasses.dataclass
class IssuedKey:
    """A new key with its secret, which exists only in this response."""

    record: ApiKeyRecord
    key: str


@dataclasses.dataclass
class AccessToken:
    token: str
    expires_in: int
