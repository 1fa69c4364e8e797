-- When a process asked for a compute task another process runs to be
-- cancelled (compute/service.py: cancel). The request is recorded in the
-- statement that finds the task unfinished, and announced to the process
-- that runs it, which cancels it as it would a request of its own.
ALTER TABLE compute_tasks ADD COLUMN cancel_requested_at text;

-- A relay that missed notifications looks for the requests to its process
-- (storage/postgres/compute.py: cancels_requested_here); few tasks have one.
CREATE INDEX compute_tasks_cancel_requests ON compute_tasks (process) WHERE cancel_requested_at IS NOT NULL;
