"""The LISTEN/NOTIFY channels events are announced on (relay.py). The task
events' name is also in migration 0005's trigger."""

import json

SESSION_EVENTS = "agent_runtime_events"
TASK_EVENTS = "agent_runtime_task_events"
# A task's run became claimable or was asked to stop (migration 0011's trigger).
RUNS = "agent_runtime_runs"
# Sessions created, changed or deleted (the /ws session list), sessions.py.
SESSION_CHANGES = "agent_runtime_session_changes"
# Fine-tuning jobs' events, ml.py.
JOB_EVENTS = "agent_runtime_job_events"
# A fine-tuning job became claimable or was cancelled (migration 0014's trigger).
JOBS = "agent_runtime_jobs"
# Compute tasks queued, started or finished; requests to cancel a compute
# task another process runs (compute.py).
COMPUTE_TASK_CHANGES = "agent_runtime_compute_task_changes"
COMPUTE_CANCEL_REQUESTS = "agent_runtime_compute_cancel_requests"

# The sender's name in every notification: its connections' application
# name (database.APPLICATION_PREFIX and the process's origin), so that a
# relay can leave out what its own process published already.
ORIGIN = "current_setting('application_name')"


async def notify(tx, channel: str, payload: dict) -> None:
    """Sends `payload` with the origin added; PostgreSQL delivers it after
    the commit, in commit order."""
    await tx.execute(
        f"SELECT pg_notify(?, (?::jsonb || jsonb_build_object('origin', {ORIGIN}))::text)",
        (channel, json.dumps(payload, separators=(",", ":"))),
    )
