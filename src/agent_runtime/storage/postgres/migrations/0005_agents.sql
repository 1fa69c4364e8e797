-- Agent tasks (mini-devin sessions' tasks, devin /api/tasks/, gRPC
-- ExecuteTask), their conversation, run events, approvals, artifacts, and
-- idempotency keys. `owner` is the principal that created the row.
CREATE TABLE agent_tasks (
    task_id text PRIMARY KEY,
    session_id text NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    owner text NOT NULL,
    description text NOT NULL,
    model text NOT NULL DEFAULT '',
    run_mode text NOT NULL DEFAULT '',
    agent_type text NOT NULL DEFAULT 'coder',
    tools text NOT NULL DEFAULT '[]',
    context text NOT NULL DEFAULT '{}',
    working_directory text NOT NULL,
    base_commit text,
    status text NOT NULL CHECK (status IN
        ('accepted', 'queued', 'running', 'waiting_approval', 'completed', 'failed', 'stopped')),
    max_iterations integer NOT NULL,
    iterations integer NOT NULL DEFAULT 0,
    plan text,
    result_success integer,
    result_summary text,
    error_code text,
    stop_requested integer NOT NULL DEFAULT 0,
    -- The task's event counter: appenders update it first (… RETURNING),
    -- so writers of one task's events take their turns on this row lock.
    last_event_sequence bigint NOT NULL DEFAULT 0,
    created_at text NOT NULL,
    updated_at text NOT NULL,
    completed_at text
);

CREATE INDEX agent_tasks_by_session ON agent_tasks (session_id, created_at);
CREATE INDEX agent_tasks_by_status ON agent_tasks (status);

-- The conversation the model sees, in order (ChatMessage JSON).
CREATE TABLE agent_task_messages (
    task_id text NOT NULL REFERENCES agent_tasks (task_id) ON DELETE CASCADE,
    position bigint NOT NULL,
    message text NOT NULL,
    PRIMARY KEY (task_id, position)
);

-- Run events (TaskEvent JSON), resumable by sequence.
CREATE TABLE agent_task_events (
    task_id text NOT NULL REFERENCES agent_tasks (task_id) ON DELETE CASCADE,
    sequence bigint NOT NULL,
    type text NOT NULL,
    body text NOT NULL,
    PRIMARY KEY (task_id, sequence)
);

-- A task's events wake its watchers on every process: ids only, sent in
-- the transaction, so PostgreSQL delivers them after the commit
-- (storage/postgres/relay.py).
CREATE FUNCTION notify_task_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('agent_runtime_task_events', json_build_object(
        'origin', current_setting('application_name'), 'task_id', NEW.task_id, 'sequence', NEW.sequence)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER agent_task_events_notify AFTER INSERT ON agent_task_events
    FOR EACH ROW EXECUTE FUNCTION notify_task_event();

-- User input waiting for the model's next turn.
CREATE TABLE agent_task_inputs (
    input_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id text NOT NULL REFERENCES agent_tasks (task_id) ON DELETE CASCADE,
    content text NOT NULL,
    created_at text NOT NULL,
    consumed integer NOT NULL DEFAULT 0
);

CREATE TABLE tool_approvals (
    approval_id text PRIMARY KEY,
    task_id text NOT NULL REFERENCES agent_tasks (task_id) ON DELETE CASCADE,
    owner text NOT NULL,
    call_id text NOT NULL,
    tool_name text NOT NULL,
    arguments text NOT NULL,
    reason text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'edited', 'rejected', 'expired')),
    decision text NOT NULL DEFAULT '',
    modified_arguments text,
    feedback text NOT NULL DEFAULT '',
    created_at text NOT NULL,
    expires_at text,
    resolved_at text,
    UNIQUE (task_id, call_id)
);

CREATE TABLE task_artifacts (
    artifact_id text PRIMARY KEY,
    task_id text NOT NULL REFERENCES agent_tasks (task_id) ON DELETE CASCADE,
    name text NOT NULL,
    type text NOT NULL,
    content_type text NOT NULL,
    content bytea NOT NULL,
    size bigint NOT NULL,
    created_at text NOT NULL,
    UNIQUE (task_id, name)
);

-- Idempotency-Key records: the same key and request give the stored
-- response for 24 hours.
CREATE TABLE idempotency_keys (
    owner text NOT NULL,
    scope text NOT NULL,
    idempotency_key text NOT NULL,
    request_hash text NOT NULL,
    response bytea NOT NULL,
    created_at text NOT NULL,
    PRIMARY KEY (owner, scope, idempotency_key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
