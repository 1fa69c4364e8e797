-- Sessions and their append-only event log (session-event-server document).
-- The PostgreSQL twin of storage/sqlite/migrations/0001_sessions.sql: the
-- same tables and columns (tests/test_postgres_migrations.py keeps them in
-- step). Times are ISO 8601 text and JSON documents are their text, as the
-- adapters write them: both engines give back the bytes they were given,
-- and both order times as text. Flags are 0/1 integers for the same reason.
CREATE TABLE sessions (
    session_id text PRIMARY KEY,
    session_name text NOT NULL,
    status text NOT NULL CHECK (status IN ('running', 'finished')),
    created_at text NOT NULL,
    updated_at text NOT NULL,
    project_dir text,
    agent_name text,
    parent_session_name text,
    last_resumed_at text,
    event_count bigint NOT NULL DEFAULT 0,
    last_sequence bigint NOT NULL DEFAULT 0
);

CREATE INDEX sessions_by_created ON sessions (created_at DESC, session_id);

-- feed_sequence orders the log of all sessions; sequence orders one
-- session's log. Rows are never updated.
CREATE TABLE events (
    feed_sequence bigint PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    session_id text NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    sequence bigint NOT NULL,
    event_type text NOT NULL,
    role text,
    timestamp text NOT NULL,
    body text NOT NULL,
    UNIQUE (session_id, sequence)
);

CREATE INDEX events_last_assistant ON events (session_id, event_type, role, sequence);

-- The last feed sequence handed out (SQLite's sqlite_sequence row). A
-- bigserial would be wrong: two transactions that take 7 and 8 may commit
-- 8 first, and a reader tailing the feed then passes 7 forever. Appenders
-- update this one row first (storage/postgres/sessions.py), so they commit
-- one after another, in the order of the sequences they took. The same
-- statement notifies the batch's last number to every process (relay.py).
CREATE TABLE event_feed_counter (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_feed_sequence bigint NOT NULL
);

INSERT INTO event_feed_counter (last_feed_sequence) VALUES (0);
