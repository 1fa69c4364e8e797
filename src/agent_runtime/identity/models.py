"""Plain records of the identity domain, and the ownership rule on plain
values that every domain's records apply (identity/ownership.py explains it)."""

from __future__ import annotations

import dataclasses


def visible(owner_id: str | None, scope: str | None) -> bool:
    """Whether a resource owned by `owner_id` is visible to a caller of
    `scope` (None: an administrator, who sees everything)."""
    return scope is None or owner_id == scope


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


@dataclasses.dataclass(frozen=True)
class RateWindow:
    """A rate-limit bucket's fixed window as counted: when it started and
    `now` (Unix seconds, on the counter's clock) and the requests counted
    in it, the one just counted included."""

    started_at: float
    requests: int
    now: float
