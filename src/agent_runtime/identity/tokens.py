"""JWT access tokens (HS256, PyJWT) and the key that signs them."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import secrets
import stat
import uuid

import jwt
import structlog

from agent_runtime.clock import Clock, utc_now
from agent_runtime.errors import Unauthenticated

log = structlog.get_logger(__name__)

ALGORITHM = "HS256"
ISSUER = "agent-runtime"
# Longer "tokens" are refused before any parsing.
MAX_TOKEN_LENGTH = 4096


def load_or_create_signing_key(path: pathlib.Path) -> bytes:
    """The key kept in `path`, created once (256 random bits, mode 0600).
    O_EXCL makes two servers starting at once agree on one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("identity.signing_key_mode_fixed", path=str(path), mode=oct(mode))
            path.chmod(0o600)
        key = path.read_bytes().strip()
        if len(key) < 32:
            raise ValueError(f"JWT signing key file {path} holds fewer than 32 bytes: delete it to generate a new one")
        return key
    key = secrets.token_hex(32).encode()
    with os.fdopen(descriptor, "wb") as file:
        file.write(key)
        file.flush()
        os.fsync(file.fileno())
    log.info("identity.signing_key_created", path=str(path))
    return key


class KeyFile:
    """The signing key in a file of the data dir (SigningKeyStore port), for
    a server that is the only process on its database (SQLite)."""

    def __init__(self, path: pathlib.Path):
        self.path = path

    async def signing_key(self) -> bytes:
        return load_or_create_signing_key(self.path)


class TokenIssuer:
    def __init__(self, key: bytes, expires_seconds: int = 3600, clock: Clock = utc_now):
        self._key = key
        self.expires_seconds = expires_seconds
        self._clock = clock

    def issue(self, user_id: str) -> str:
        now = self._clock()
        claims = {
            "sub": user_id,
            "iss": ISSUER,
            "iat": now,
            "nbf": now,
            "exp": now + dt.timedelta(seconds=self.expires_seconds),
            "jti": uuid.uuid4().hex,
            "typ": "access",
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> str:
        """The user id of a valid, unexpired token of ours; Unauthenticated
        otherwise (wrong signature, changed payload, `alg: none`, expired)."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated("Invalid bearer token")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("Bearer token has expired: log in again") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("Invalid bearer token") from None
        subject = claims.get("sub")
        if claims.get("typ") != "access" or not isinstance(subject, str) or not subject:
            raise Unauthenticated("Invalid bearer token")
        return subject
