-- Compute tasks with their performance figures, the sampled metrics series
-- and the start-up probe measurements (openruntime-compute document).
CREATE TABLE compute_tasks (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id text NOT NULL UNIQUE,
    operation text NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'timeout')),
    priority integer NOT NULL,
    device_preference text NOT NULL,
    parameters text NOT NULL,
    device_used text NOT NULL DEFAULT '',
    output text,
    error text NOT NULL DEFAULT '',
    execution_time double precision NOT NULL DEFAULT 0,
    memory_used_mb double precision NOT NULL DEFAULT 0,
    gpu_utilization double precision NOT NULL DEFAULT 0,
    queue_time_ms double precision NOT NULL DEFAULT 0,
    gflops double precision NOT NULL DEFAULT 0,
    bandwidth_gb_s double precision NOT NULL DEFAULT 0,
    created_at text NOT NULL,
    started_at text,
    finished_at text,
    updated_at text NOT NULL,
    -- Seconds since the epoch of finished_at, for window queries.
    finished_epoch double precision
);

CREATE INDEX compute_tasks_by_finished ON compute_tasks (finished_epoch);

-- One row per sampling interval; rows older than the retention are pruned.
CREATE TABLE compute_metric_samples (
    epoch double precision NOT NULL,
    sampled_at text NOT NULL,
    cpu_utilization double precision NOT NULL,
    memory_usage double precision NOT NULL,
    gpu_utilization double precision NOT NULL,
    active_tasks integer NOT NULL,
    queued_tasks integer NOT NULL,
    tasks_completed bigint NOT NULL,
    tasks_failed bigint NOT NULL,
    tasks_per_minute double precision NOT NULL,
    avg_execution_ms double precision NOT NULL,
    avg_gflops double precision NOT NULL,
    ai_tasks_processed bigint NOT NULL
);

CREATE INDEX compute_metric_samples_by_epoch ON compute_metric_samples (epoch);

-- The latest start-up probe: seconds each device took per operation and size class.
CREATE TABLE compute_probe_results (
    operation text NOT NULL,
    size_class text NOT NULL,
    device_id text NOT NULL,
    seconds double precision,
    note text NOT NULL DEFAULT '',
    probed_at text NOT NULL,
    PRIMARY KEY (operation, size_class, device_id)
);
