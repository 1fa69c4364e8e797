-- PostgreSQL's 0013 records a request to cancel a compute task another
-- process runs. SQLite serves one process, which cancels its own tasks
-- directly (the column stays empty; it keeps the engines' tables in step).
ALTER TABLE compute_tasks ADD COLUMN cancel_requested_at TEXT;
