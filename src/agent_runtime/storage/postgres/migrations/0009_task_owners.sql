-- A user's agent tasks belong to the user, whichever of their credentials
-- made them (SQLite's 0009 rewrote rows made before it; the same statements
-- keep the two histories alike).
UPDATE agent_tasks
SET owner = (SELECT user_id FROM api_keys WHERE api_keys.key_id = agent_tasks.owner)
WHERE owner IN (SELECT key_id FROM api_keys WHERE user_id IS NOT NULL);

UPDATE tool_approvals
SET owner = (SELECT user_id FROM api_keys WHERE api_keys.key_id = tool_approvals.owner)
WHERE owner IN (SELECT key_id FROM api_keys WHERE user_id IS NOT NULL);
