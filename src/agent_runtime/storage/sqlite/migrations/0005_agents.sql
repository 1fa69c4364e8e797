-- Agent tasks (mini-devin sessions' tasks, devin /api/tasks/, gRPC
-- ExecuteTask), their conversation, run events, approvals, artifacts, and
-- idempotency keys. `owner` is the principal that created the row.
CREATE TABLE agent_tasks (
    task_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    owner TEXT NOT NULL,
    description TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    run_mode TEXT NOT NULL DEFAULT '',
    agent_type TEXT NOT NULL DEFAULT 'coder',
    tools TEXT NOT NULL DEFAULT '[]',
    context TEXT NOT NULL DEFAULT '{}',
    working_directory TEXT NOT NULL,
    base_commit TEXT,
    status TEXT NOT NULL CHECK (status IN
        ('accepted', 'queued', 'running', 'waiting_approval', 'completed', 'failed', 'stopped')),
    max_iterations INTEGER NOT NULL,
    iterations INTEGER NOT NULL DEFAULT 0,
    plan TEXT,
    result_success INTEGER,
    result_summary TEXT,
    error_code TEXT,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    last_event_sequence INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    completed_at TEXT
);

CREATE INDEX agent_tasks_by_session ON agent_tasks (session_id, created_at);
CREATE INDEX agent_tasks_by_status ON agent_tasks (status);

-- The conversation the model sees, in order (ChatMessage JSON).
CREATE TABLE agent_task_messages (
    task_id TEXT NOT NULL REFERENCES agent_tasks (task_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (task_id, position)
);

-- Run events (TaskEvent JSON), resumable by sequence.
CREATE TABLE agent_task_events (
    task_id TEXT NOT NULL REFERENCES agent_tasks (task_id) ON DELETE CASCADE,
    sequence INTEGER NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (task_id, sequence)
);

-- User input waiting for the model's next turn.
CREATE TABLE agent_task_inputs (
    input_id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL REFERENCES agent_tasks (task_id) ON DELETE CASCADE,
    content TEXT NOT NULL,
    created_at TEXT NOT NULL,
    consumed INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE tool_approvals (
    approval_id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES agent_tasks (task_id) ON DELETE CASCADE,
    owner TEXT NOT NULL,
    call_id TEXT NOT NULL,
    tool_name TEXT NOT NULL,
    arguments TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'edited', 'rejected', 'expired')),
    decision TEXT NOT NULL DEFAULT '',
    modified_arguments TEXT,
    feedback TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    expires_at TEXT,
    resolved_at TEXT,
    UNIQUE (task_id, call_id)
);

CREATE TABLE task_artifacts (
    artifact_id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES agent_tasks (task_id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content BLOB NOT NULL,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (task_id, name)
);

-- Idempotency-Key records: the same key and request give the stored
-- response for 24 hours.
CREATE TABLE idempotency_keys (
    owner TEXT NOT NULL,
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (owner, scope, idempotency_key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
