-- Users, their API keys, and the owner of each session (identity issue).
CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    -- Lower-cased; the login name.
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    username TEXT NOT NULL,
    -- argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE INDEX users_by_created ON users (created_at, user_id);

-- Issued `md_…` keys. Only the SHA-256 of a key is kept (keys are 256-bit
-- random, so a fast hash is enough); `prefix` lets owners tell keys apart.
-- user_id NULL: a key issued by an administrator credential, itself admin.
CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT
);

CREATE INDEX api_keys_by_user ON api_keys (user_id, created_at);

-- NULL owner: created by an administrator credential (configured key,
-- service token, anonymous local client); only administrators see it.
ALTER TABLE sessions ADD COLUMN owner_id TEXT;

CREATE INDEX sessions_by_owner ON sessions (owner_id, created_at DESC, session_id);
