-- Human in the loop for codelab sessions: what a session asked for at
-- creation (tools that run on the client, plans that need the user's
-- approval), and the client-side tool calls whose result a run waits for.
ALTER TABLE session_profiles ADD COLUMN client_tools TEXT NOT NULL DEFAULT '[]';
ALTER TABLE session_profiles ADD COLUMN require_plan_approval INTEGER NOT NULL DEFAULT 0;

-- A tool call the client (the IDE) executes; `answered` once its
-- `tool_result` message arrived. The run waits for it across restarts.
CREATE TABLE client_tool_calls (
    task_id TEXT NOT NULL REFERENCES agent_tasks (task_id) ON DELETE CASCADE,
    call_id TEXT NOT NULL,
    tool_name TEXT NOT NULL,
    arguments TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'answered')),
    result TEXT,
    is_error INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    answered_at TEXT,
    PRIMARY KEY (task_id, call_id)
);

-- The codelab pending-approvals list reads a session's approvals by status.
CREATE INDEX tool_approvals_by_status ON tool_approvals (status, task_id);
