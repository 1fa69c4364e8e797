"""Storage behind repository interfaces. SQLite (aiosqlite, WAL) is the
embedded default; each repository is a Protocol so that a PostgreSQL backend
can follow without touching the domain classes."""
