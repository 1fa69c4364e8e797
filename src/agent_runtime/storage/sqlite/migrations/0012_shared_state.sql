-- PostgreSQL's 0012 adds the state its server processes share (the JWT
-- signing key, the rate limits' windows) and which process runs a compute
-- task or fine-tuning job. SQLite serves one process: its key is the data dir's file, its
-- windows are counted in memory and every unfinished task and job is its own
-- (the columns stay empty; they keep the engines' tables in step).
ALTER TABLE compute_tasks ADD COLUMN process TEXT;
ALTER TABLE ml_jobs ADD COLUMN process TEXT;
