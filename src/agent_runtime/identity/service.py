"""The identity domain: register and log in users, issue, list and revoke
API keys, list users, and resolve credentials to principals."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import uuid

from agent_runtime.clock import Clock, iso, parse_iso, utc_now
from agent_runtime.errors import AlreadyExists, NotFound, Unauthenticated, ValidationFailed
from agent_runtime.identity.models import AccessToken, ApiKeyRecord, IssuedKey, UserRecord
from agent_runtime.identity.passwords import Passwords
from agent_runtime.identity.ports import IdentityRepository
from agent_runtime.identity.tokens import TokenIssuer
from agent_runtime.interceptors.auth import Principal

KEY_PREFIX = "md_"
# md_ + 43 characters of base64url (256 random bits).
MAX_KEY_LENGTH = 128
EMAIL_PATTERN = re.compile(r"^[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")
MAX_EMAIL_LENGTH = 254
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_NAME_LENGTH = 256
MAX_USERNAME_LENGTH = 64
MAX_KEY_NAME_LENGTH = 128
# last_used_at is written at most this often per key.
TOUCH_INTERVAL = dt.timedelta(seconds=60)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _has_control_characters(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


class IdentityService:
    def __init__(
        self,
        repository: IdentityRepository,
        tokens: TokenIssuer,
        passwords: Passwords,
        clock: Clock = utc_now,
    ):
        self._repository = repository
        self._tokens = tokens
        self._passwords = passwords
        self._clock = clock

    # Users ---------------------------------------------------------------

    async def register(self, email: str, password: str, name: str = "", username: str = "") -> UserRecord:
        email = email.strip().lower()
        name = name.strip()
        username = username.strip()
        problems: dict[str, str] = {}
        if not email:
            problems["email"] = "email is required"
        elif len(email) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.match(email):
            problems["email"] = "email must be an address like user@example.com (at most 254 characters)"
        if len(password) < MIN_PASSWORD_LENGTH:
            problems["password"] = f"password must be at least {MIN_PASSWORD_LENGTH} characters"
        elif len(password) > MAX_PASSWORD_LENGTH:
            problems["password"] = f"password must be at most {MAX_PASSWORD_LENGTH} characters"
        if len(name) > MAX_NAME_LENGTH or _has_control_characters(name):
            problems["name"] = f"name must be at most {MAX_NAME_LENGTH} characters without control characters"
        if len(username) > MAX_USERNAME_LENGTH or _has_control_characters(username):
            problems["username"] = f"username must be at most {MAX_USERNAME_LENGTH} characters without control characters"
        if problems:
            raise ValidationFailed(_summary(problems), fields=problems)
        user = UserRecord(
            user_id=str(uuid.uuid4()),
            email=email,
            name=name,
            username=username or email.split("@", 1)[0],
            password_hash=await self._passwords.hash(password),
            created_at=iso(self._clock()),
        )
        if not await self._repository.create_user(user):
            raise AlreadyExists(f"A user with email {user.email} already exists")
        return user

    async def login(self, email: str, password: str) -> AccessToken:
        email = email.strip().lower()
        problems = {}
        if not email:
            problems["email"] = "email is required"
        if not password:
            problems["password"] = "password is required"
        if problems:
            raise ValidationFailed(_summary(problems), fields=problems)
        user = None
        if len(email) <= MAX_EMAIL_LENGTH and len(password) <= MAX_PASSWORD_LENGTH:
            user = await self._repository.find_user_by_email(email)
        # Verify even for an unknown email: both failures take as long.
        valid = await self._passwords.verify(user.password_hash if user else None, password[:MAX_PASSWORD_LENGTH])
        if user is None or not valid:
            raise Unauthenticated("Invalid email or password")
        return AccessToken(self._tokens.issue(user.user_id), self._tokens.expires_seconds)

    async def get_user(self, user_id: str) -> UserRecord:
        user = await self._repository.get_user(user_id)
        if user is None:
            raise NotFound(f"User {user_id} not found")
        return user

    async def list_users(self, scope: str | None = None) -> list[UserRecord]:
        """Every user (scope None) or only the user with id `scope`."""
        return await self._repository.list_users(scope)

    # API keys --------------------------------------------------------------

    async def create_api_key(self, name: str, expires_at: dt.datetime | None, owner: str | None) -> IssuedKey:
        name = name.strip()
        problems = {}
        if not name:
            problems["name"] = "name is required"
        elif len(name) > MAX_KEY_NAME_LENGTH or _has_control_characters(name):
            problems["name"] = f"name must be at most {MAX_KEY_NAME_LENGTH} characters without control characters"
        now = self._clock()
        if expires_at is not None and expires_at <= now:
            problems["expires_at"] = "expires_at must lie in the future"
        if problems:
            raise ValidationFailed(_summary(problems), fields=problems)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            key_id=str(uuid.uuid4()),
            user_id=owner,
            name=name,
            key_hash=hash_key(key),
            prefix=key[:11],
            created_at=iso(now),
            expires_at=iso(expires_at) if expires_at else None,
        )
        await self._repository.create_api_key(record)
        return IssuedKey(record, key)

    async def list_api_keys(self, scope: str | None = None) -> list[ApiKeyRecord]:
        return await self._repository.list_api_keys(scope)

    async def revoke_api_key(self, key_id: str, scope: str | None = None) -> ApiKeyRecord:
        not_found = NotFound(f"API key {key_id} not found")
        if not key_id or len(key_id) > 64:
            raise not_found
        key = await self._repository.get_api_key(key_id)
        if key is None or (scope is not None and key.user_id != scope):
            raise not_found
        revoked = await self._repository.revoke_api_key(key_id, iso(self._clock()))
        if revoked is None:
            raise not_found
        return revoked

    # Credentials -------------------------------------------------------------

    async def principal_for_key(self, key: str) -> Principal:
        """The principal of an issued md_ key; Unauthenticated for an unknown,
        expired or revoked key, or a key whose user is gone."""
        if not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_LENGTH:
            raise Unauthenticated("Invalid API key")
        record = await self._repository.find_api_key_by_hash(hash_key(key))
        if record is None or not secrets.compare_digest(record.key_hash, hash_key(key)):
            raise Unauthenticated("Invalid API key")
        now = self._clock()
        if record.revoked_at is not None:
            raise Unauthenticated("API key has been revoked")
        if record.expires_at is not None and parse_iso(record.expires_at) <= now:
            raise Unauthenticated("API key has expired")
        if record.user_id is not None and await self._repository.get_user(record.user_id) is None:
            raise Unauthenticated("API key belongs to a user that no longer exists")
        if record.last_used_at is None or parse_iso(record.last_used_at) + TOUCH_INTERVAL <= now:
            await self._repository.touch_api_key(record.key_id, iso(now))
        if record.user_id is None:
            return Principal(kind="admin_key", subject=record.key_id, admin=True)
        return Principal(kind="user_key", subject=record.key_id, user_id=record.user_id)

    async def principal_for_token(self, token: str) -> Principal:
        user_id = self._tokens.verify(token)
        if await self._repository.get_user(user_id) is None:
            raise Unauthenticated("Bearer token names a user that no longer exists")
        return Principal(kind="jwt", subject=user_id, user_id=user_id)


def _summary(problems: dict[str, str]) -> str:
    return "Invalid request: " + "; ".join(problems.values())
