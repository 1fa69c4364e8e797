"""The LISTEN/NOTIFY channels events are announced on (relay.py). The task
events' name is also in migration 0005's trigger."""

SESSION_EVENTS = "agent_runtime_events"
TASK_EVENTS = "agent_runtime_task_events"
# A task's run became claimable or was asked to stop (migration 0011's trigger).
RUNS = "agent_runtime_runs"
