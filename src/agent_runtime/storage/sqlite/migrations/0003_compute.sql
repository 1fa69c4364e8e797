-- Compute tasks with their performance figures, the sampled metrics series
-- and the start-up probe measurements (openruntime-compute document).
CREATE TABLE compute_tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL UNIQUE,
    operation TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'timeout')),
    priority INTEGER NOT NULL,
    device_preference TEXT NOT NULL,
    parameters TEXT NOT NULL,
    device_used TEXT NOT NULL DEFAULT '',
    output TEXT,
    error TEXT NOT NULL DEFAULT '',
    execution_time REAL NOT NULL DEFAULT 0,
    memory_used_mb REAL NOT NULL DEFAULT 0,
    gpu_utilization REAL NOT NULL DEFAULT 0,
    queue_time_ms REAL NOT NULL DEFAULT 0,
    gflops REAL NOT NULL DEFAULT 0,
    bandwidth_gb_s REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    updated_at TEXT NOT NULL,
    -- Seconds since the epoch of finished_at, for window queries.
    finished_epoch REAL
);

CREATE INDEX compute_tasks_by_finished ON compute_tasks (finished_epoch);

-- One row per sampling interval; rows older than the retention are pruned.
CREATE TABLE compute_metric_samples (
    epoch REAL NOT NULL,
    sampled_at TEXT NOT NULL,
    cpu_utilization REAL NOT NULL,
    memory_usage REAL NOT NULL,
    gpu_utilization REAL NOT NULL,
    active_tasks INTEGER NOT NULL,
    queued_tasks INTEGER NOT NULL,
    tasks_completed INTEGER NOT NULL,
    tasks_failed INTEGER NOT NULL,
    tasks_per_minute REAL NOT NULL,
    avg_execution_ms REAL NOT NULL,
    avg_gflops REAL NOT NULL,
    ai_tasks_processed INTEGER NOT NULL
);

CREATE INDEX compute_metric_samples_by_epoch ON compute_metric_samples (epoch);

-- The latest start-up probe: seconds each device took per operation and size class.
CREATE TABLE compute_probe_results (
    operation TEXT NOT NULL,
    size_class TEXT NOT NULL,
    device_id TEXT NOT NULL,
    seconds REAL,
    note TEXT NOT NULL DEFAULT '',
    probed_at TEXT NOT NULL,
    PRIMARY KEY (operation, size_class, device_id)
);
