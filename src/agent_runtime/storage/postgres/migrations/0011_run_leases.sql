-- Runs that move between processes (agents/leases.py): the process that
-- runs a task holds its lease (its instance id, until the expiry, renewed
-- while it works); each claim bumps the epoch, and every write of the run
-- checks owner and epoch, so a process that lost the lease cannot write.
ALTER TABLE agent_tasks ADD COLUMN lease_owner text;
ALTER TABLE agent_tasks ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE agent_tasks ADD COLUMN lease_expires_at text;

CREATE INDEX agent_tasks_by_lease ON agent_tasks (lease_owner, lease_expires_at);

-- A run that became claimable (its lease released, or a decision made its
-- paused task runnable) and a stop request wake every process: the task's
-- id on the runs channel (storage/postgres/channels.py), after the commit.
CREATE FUNCTION notify_run_change() RETURNS trigger AS $$
BEGIN
    IF (NEW.lease_owner IS NULL AND NEW.status IN ('accepted', 'queued', 'running')
            AND (OLD.lease_owner IS NOT NULL OR OLD.status IS DISTINCT FROM NEW.status))
        OR NEW.stop_requested <> OLD.stop_requested THEN
        PERFORM pg_notify('agent_runtime_runs', NEW.task_id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER agent_tasks_run_change AFTER UPDATE ON agent_tasks
    FOR EACH ROW EXECUTE FUNCTION notify_run_change();
