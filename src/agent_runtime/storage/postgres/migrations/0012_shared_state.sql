-- State every server process on this database shares (serve --workers N,
-- several machines): the JWT signing key, so a token issued by one is
-- accepted by all, and the rate limits' fixed windows, so a budget is one
-- budget however many processes count it. SQLite serves one process: its
-- key is the data dir's file and its windows are counted in memory.

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
