-- ML: model registry, uploaded training files, fine-tuning jobs and their
-- event log (agent-runtime-devin document, /ml-api/ and MLService).
CREATE TABLE ml_models (
    id text PRIMARY KEY,
    name text NOT NULL,
    version text NOT NULL,
    description text NOT NULL,
    -- JSON object of numbers (temperature, max_tokens, context_length, ...).
    parameters text NOT NULL,
    -- 'mlx' (a model directory) or 'fine_tuned' (base model + LoRA adapters).
    kind text NOT NULL CHECK (kind IN ('mlx', 'fine_tuned')),
    path text NOT NULL,
    adapter_path text,
    base_model_id text,
    created_at text NOT NULL,
    updated_at text NOT NULL
);

CREATE TABLE ml_files (
    id text PRIMARY KEY,
    filename text NOT NULL,
    purpose text NOT NULL,
    bytes bigint NOT NULL,
    line_count bigint NOT NULL,
    format text NOT NULL,
    path text NOT NULL,
    created_at bigint NOT NULL,
    -- Upload order within a second (SQLite's implicit rowid).
    insert_order bigint GENERATED ALWAYS AS IDENTITY
);

CREATE TABLE ml_jobs (
    id text PRIMARY KEY,
    model_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('created', 'queued', 'running', 'succeeded', 'failed', 'cancelled')),
    created_at text NOT NULL,
    updated_at text NOT NULL,
    fine_tuned_model text,
    training_file text NOT NULL,
    validation_file text,
    suffix text NOT NULL,
    compute_config text NOT NULL,
    hyperparameters text NOT NULL,
    metrics text,
    error text,
    last_sequence bigint NOT NULL DEFAULT 0
);

CREATE INDEX ml_jobs_by_created ON ml_jobs (created_at DESC, id);
CREATE INDEX ml_jobs_by_status ON ml_jobs (status);

-- Append-only, one row per job event; rows are never updated.
CREATE TABLE ml_job_events (
    job_id text NOT NULL REFERENCES ml_jobs (id) ON DELETE CASCADE,
    sequence bigint NOT NULL,
    type text NOT NULL,
    created_at text NOT NULL,
    message text NOT NULL,
    status text NOT NULL,
    metrics text,
    step bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, sequence)
);
