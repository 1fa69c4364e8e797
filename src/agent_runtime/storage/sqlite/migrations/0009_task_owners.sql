-- A user's agent tasks belong to the user, whichever of their credentials
-- made them. Tasks (and their approvals) that a user's md_ key created
-- carried the key's id; they now carry the user's id, as the tasks made
-- with the user's JWT always did. Idempotency keys expire within a day and
-- are left as they are.
UPDATE agent_tasks
SET owner = (SELECT user_id FROM api_keys WHERE api_keys.key_id = agent_tasks.owner)
WHERE owner IN (SELECT key_id FROM api_keys WHERE user_id IS NOT NULL);

UPDATE tool_approvals
SET owner = (SELECT user_id FROM api_keys WHERE api_keys.key_id = tool_approvals.owner)
WHERE owner IN (SELECT key_id FROM api_keys WHERE user_id IS NOT NULL);
