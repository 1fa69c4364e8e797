-- Ownership of compute tasks (identity/ownership.py): the user who submitted
-- the task; NULL for administrators', which only administrators see.
ALTER TABLE compute_tasks ADD COLUMN owner_id text;

CREATE INDEX compute_tasks_by_owner ON compute_tasks (owner_id, seq);
