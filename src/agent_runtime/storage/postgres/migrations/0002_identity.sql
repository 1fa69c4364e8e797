-- Users, their API keys, and the owner of each session (identity issue).
CREATE TABLE users (
    user_id text PRIMARY KEY,
    -- Lower-cased; the login name.
    email text NOT NULL UNIQUE,
    name text NOT NULL,
    username text NOT NULL,
    -- argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    password_hash text NOT NULL,
    created_at text NOT NULL
);

CREATE INDEX users_by_created ON users (created_at, user_id);

-- Issued `md_…` keys; only the SHA-256 of a key is kept. user_id NULL: a
-- key issued by an administrator credential, itself admin.
CREATE TABLE api_keys (
    key_id text PRIMARY KEY,
    user_id text REFERENCES users (user_id) ON DELETE CASCADE,
    name text NOT NULL,
    key_hash text NOT NULL UNIQUE,
    prefix text NOT NULL,
    created_at text NOT NULL,
    expires_at text,
    revoked_at text,
    last_used_at text
);

CREATE INDEX api_keys_by_user ON api_keys (user_id, created_at);

-- NULL owner: created by an administrator credential; only administrators see it.
ALTER TABLE sessions ADD COLUMN owner_id text;

CREATE INDEX sessions_by_owner ON sessions (owner_id, created_at DESC, session_id);
