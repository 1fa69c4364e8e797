-- Sessions and their append-only event log (session-event-server document).
CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    session_name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    project_dir TEXT,
    agent_name TEXT,
    parent_session_name TEXT,
    last_resumed_at TEXT,
    event_count INTEGER NOT NULL DEFAULT 0,
    last_sequence INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX sessions_by_created ON sessions (created_at DESC, session_id);

-- feed_sequence (the rowid) orders the log of all sessions; sequence orders
-- one session's log. Rows are never updated.
CREATE TABLE events (
    feed_sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    sequence INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    role TEXT,
    timestamp TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (session_id, sequence)
);

CREATE INDEX events_last_assistant ON events (session_id, event_type, role, sequence);
