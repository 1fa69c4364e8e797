-- PostgreSQL's 0012 adds the state its server processes share (the JWT
-- signing key, the rate limits' windows) and which process runs a compute
-- task. SQLite serves one process: its key is the data dir's file, its
-- windows are counted in memory and every unfinished task is its own (the
-- column stays empty; it keeps the engines' tables in step).
ALTER TABLE compute_tasks ADD COLUMN process TEXT;
