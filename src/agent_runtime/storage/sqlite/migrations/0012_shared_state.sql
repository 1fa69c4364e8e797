-- PostgreSQL's 0012 adds the state its server processes share (the JWT
-- signing key, the rate limits' windows). SQLite serves one process: its key
-- is the data dir's file and its windows are counted in memory, so nothing
-- changes here; the migration keeps both engines' versions in step.
SELECT 1;
