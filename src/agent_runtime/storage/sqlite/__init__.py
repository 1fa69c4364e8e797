"""The embedded SQLite engine (aiosqlite, WAL): the database, its numbered
migrations and one adapter per domain port."""
