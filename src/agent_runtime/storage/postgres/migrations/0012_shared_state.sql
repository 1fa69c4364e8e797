-- State every server process on this database shares (serve --workers N,
-- several machines): the JWT signing key, so a token issued by one is
-- accepted by all, and the rate limits' fixed windows, so a budget is one
-- budget however many processes count it. SQLite serves one process: its
-- key is the data dir's file and its windows are counted in memory.
-- And which process runs a compute task, so that a starting process fails
-- only the unfinished tasks of processes that are gone.

-- One row (id 1): the first process to start inserts it, the others read it.
CREATE TABLE signing_keys (
    id integer PRIMARY KEY CHECK (id = 1),
    key text NOT NULL,
    created_at text NOT NULL
);

-- A bucket's window (identity/ratelimit.py): its start (Unix seconds, the
-- database's clock, the same for every machine) and the requests counted in
-- it. Rows of windows long over are deleted now and then.
CREATE TABLE rate_limit_windows (
    bucket text PRIMARY KEY,
    window_start double precision NOT NULL,
    requests integer NOT NULL
);

-- The application name (storage/postgres/database.py: APPLICATION_PREFIX and
-- the process's origin) of the process that accepted the task; a process is
-- alive while it has a connection by that name. NULL: a task from before.
ALTER TABLE compute_tasks ADD COLUMN process text;
ALTER TABLE compute_tasks ALTER COLUMN process SET DEFAULT current_setting('application_name');

-- The same for a fine-tuning job, set when a process starts running it: a
-- process that starts takes on only running jobs no live process runs.
ALTER TABLE ml_jobs ADD COLUMN process text;
