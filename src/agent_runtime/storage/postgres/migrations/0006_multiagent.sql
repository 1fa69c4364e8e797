-- Multi-agent sessions (codelab): each session's current agent and the
-- history of its switches. A session without a row runs the default agent.
CREATE TABLE session_agents (
    session_id text PRIMARY KEY REFERENCES sessions (session_id) ON DELETE CASCADE,
    current_agent text NOT NULL,
    previous_agent text,
    switched_at text,
    switch_count integer NOT NULL DEFAULT 0
);

CREATE TABLE agent_switches (
    session_id text NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    position integer NOT NULL,
    from_agent text NOT NULL,
    to_agent text NOT NULL,
    reason text NOT NULL,
    task_id text,
    timestamp text NOT NULL,
    PRIMARY KEY (session_id, position)
);

-- Who a codelab session (`/api/v1/sessions`) is for and its client metadata
-- (JSON object); `metadata.project_path` is also the session's project_dir.
CREATE TABLE session_profiles (
    session_id text PRIMARY KEY REFERENCES sessions (session_id) ON DELETE CASCADE,
    user_id text NOT NULL,
    metadata text NOT NULL DEFAULT '{}'
);
