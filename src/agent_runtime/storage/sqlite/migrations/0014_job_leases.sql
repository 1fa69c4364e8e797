-- Fine-tuning jobs claimed from a lease queue (ml/jobs.py), like agent
-- runs (0011): the process that runs a job holds its lease (owner, epoch,
-- expiry, renewed while it trains); every write of its progress checks
-- owner and epoch. A job's files are in one data dir: only processes with
-- that data dir (its id, ml/data_dir.py) claim it. The lease replaces
-- 0012's record of the process running a job.
ALTER TABLE ml_jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE ml_jobs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ml_jobs ADD COLUMN lease_expires_at TEXT;
ALTER TABLE ml_jobs ADD COLUMN data_dir_id TEXT;
ALTER TABLE ml_jobs DROP COLUMN process;

CREATE INDEX ml_jobs_by_lease ON ml_jobs (status, lease_owner, lease_expires_at);
