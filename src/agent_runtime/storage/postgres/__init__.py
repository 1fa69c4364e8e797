"""The PostgreSQL engine (asyncpg; DATABASE_URL=postgresql://…): the
database, its numbered migrations, one adapter per domain port, and the
LISTEN/NOTIFY relay that wakes watchers on every process."""
