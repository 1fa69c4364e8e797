-- Runs that move between processes (agents/leases.py): the process that
-- runs a task holds its lease (its instance id, until the expiry, renewed
-- while it works); each claim bumps the epoch, and every write of the run
-- checks owner and epoch, so a process that lost the lease cannot write.
ALTER TABLE agent_tasks ADD COLUMN lease_owner TEXT;
ALTER TABLE agent_tasks ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agent_tasks ADD COLUMN lease_expires_at TEXT;

CREATE INDEX agent_tasks_by_lease ON agent_tasks (lease_owner, lease_expires_at);
