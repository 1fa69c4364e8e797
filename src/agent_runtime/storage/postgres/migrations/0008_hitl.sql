-- Human in the loop for codelab sessions: what a session asked for at
-- creation (tools that run on the client, plans that need the user's
-- approval), and the client-side tool calls whose result a run waits for.
ALTER TABLE session_profiles ADD COLUMN client_tools text NOT NULL DEFAULT '[]';
ALTER TABLE session_profiles ADD COLUMN require_plan_approval integer NOT NULL DEFAULT 0;

-- A tool call the client (the IDE) executes; `answered` once its
-- `tool_result` message arrived. The run waits for it across restarts.
CREATE TABLE client_tool_calls (
    task_id text NOT NULL REFERENCES agent_tasks (task_id) ON DELETE CASCADE,
    call_id text NOT NULL,
    tool_name text NOT NULL,
    arguments text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'answered')),
    result text,
    is_error integer NOT NULL DEFAULT 0,
    created_at text NOT NULL,
    answered_at text,
    PRIMARY KEY (task_id, call_id)
);

-- The codelab pending-approvals list reads a session's approvals by status.
CREATE INDEX tool_approvals_by_status ON tool_approvals (status, task_id);
