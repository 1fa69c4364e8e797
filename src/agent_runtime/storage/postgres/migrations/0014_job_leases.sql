-- Fine-tuning jobs claimed from a lease queue (ml/jobs.py), like agent
-- runs (0011): the process that runs a job holds its lease (owner, epoch,
-- expiry, renewed while it trains); every write of its progress checks
-- owner and epoch. A job's files are in one data dir: only processes with
-- that data dir (its id, ml/data_dir.py) claim it. The lease replaces
-- 0012's record of the process running a job.
ALTER TABLE ml_jobs ADD COLUMN lease_owner text;
ALTER TABLE ml_jobs ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE ml_jobs ADD COLUMN lease_expires_at text;
ALTER TABLE ml_jobs ADD COLUMN data_dir_id text;
ALTER TABLE ml_jobs DROP COLUMN process;

CREATE INDEX ml_jobs_by_lease ON ml_jobs (status, lease_owner, lease_expires_at);

-- A job that became claimable (queued, or its lease released) and a job
-- cancelled wake every process: its id on the jobs channel
-- (storage/postgres/channels.py), after the commit.
CREATE FUNCTION notify_job_change() RETURNS trigger AS $$
BEGIN
    IF (NEW.lease_owner IS NULL AND NEW.status IN ('queued', 'running')
            AND (OLD.lease_owner IS NOT NULL OR OLD.status IS DISTINCT FROM NEW.status))
        OR (NEW.status = 'cancelled' AND OLD.status <> 'cancelled') THEN
        PERFORM pg_notify('agent_runtime_jobs', NEW.id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ml_jobs_job_change AFTER UPDATE ON ml_jobs
    FOR EACH ROW EXECUTE FUNCTION notify_job_change();
