-- Ownership of ML training files and fine-tuning jobs (identity/ownership.py):
-- the user who created the row; NULL for administrators', which only
-- administrators see.
ALTER TABLE ml_files ADD COLUMN owner_id text;
ALTER TABLE ml_jobs ADD COLUMN owner_id text;

CREATE INDEX ml_files_by_owner ON ml_files (owner_id);
CREATE INDEX ml_jobs_by_owner ON ml_jobs (owner_id);
