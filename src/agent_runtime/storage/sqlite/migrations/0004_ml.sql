-- ML: model registry, uploaded training files, fine-tuning jobs and their
-- event log (agent-runtime-devin document, /ml-api/ and MLService).
CREATE TABLE ml_models (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    description TEXT NOT NULL,
    -- JSON object of numbers (temperature, max_tokens, context_length, ...).
    parameters TEXT NOT NULL,
    -- 'mlx' (a model directory) or 'fine_tuned' (base model + LoRA adapters).
    kind TEXT NOT NULL CHECK (kind IN ('mlx', 'fine_tuned')),
    path TEXT NOT NULL,
    adapter_path TEXT,
    base_model_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE ml_files (
    id TEXT PRIMARY KEY,
    filename TEXT NOT NULL,
    purpose TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    line_count INTEGER NOT NULL,
    format TEXT NOT NULL,
    path TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE ml_jobs (
    id TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('created', 'queued', 'running', 'succeeded', 'failed', 'cancelled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    fine_tuned_model TEXT,
    training_file TEXT NOT NULL,
    validation_file TEXT,
    suffix TEXT NOT NULL,
    compute_config TEXT NOT NULL,
    hyperparameters TEXT NOT NULL,
    metrics TEXT,
    error TEXT,
    last_sequence INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX ml_jobs_by_created ON ml_jobs (created_at DESC, id);
CREATE INDEX ml_jobs_by_status ON ml_jobs (status);

-- Append-only, one row per job event; rows are never updated.
CREATE TABLE ml_job_events (
    job_id TEXT NOT NULL REFERENCES ml_jobs (id) ON DELETE CASCADE,
    sequence INTEGER NOT NULL,
    type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    metrics TEXT,
    step INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, sequence)
);
