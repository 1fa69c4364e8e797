-- Multi-agent sessions (codelab): each session's current agent and the
-- history of its switches. A session without a row runs the default agent.
CREATE TABLE session_agents (
    session_id TEXT PRIMARY KEY REFERENCES sessions (session_id) ON DELETE CASCADE,
    current_agent TEXT NOT NULL,
    previous_agent TEXT,
    switched_at TEXT,
    switch_count INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE agent_switches (
    session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    from_agent TEXT NOT NULL,
    to_agent TEXT NOT NULL,
    reason TEXT NOT NULL,
    task_id TEXT,
    timestamp TEXT NOT NULL,
    PRIMARY KEY (session_id, position)
);

-- Who a codelab session (`/api/v1/sessions`) is for and its client metadata
-- (JSON object); `metadata.project_path` is also the session's project_dir.
CREATE TABLE session_profiles (
    session_id TEXT PRIMARY KEY REFERENCES sessions (session_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
