"""Whether settings can serve: the settings' own checks, those that need a
domain's knowledge (the settings import no domain), and `--workers`. Kept
apart from the server so that a refusal comes before the server's imports."""

from __future__ import annotations

from agent_runtime.agents.catalog import check_default_agent
from agent_runtime.config import Settings
from agent_runtime.identity.projects import check_project_roots


def check_settings(settings: Settings) -> None:
    """Raises ValueError with one line."""
    settings.check()
    check_default_agent(settings.agents.default_agent)
    check_project_roots(settings.agents.project_roots, settings.data_dir)


def refuse_workers(settings: Settings, count: int) -> str | None:
    """Why `--workers count` cannot run with these settings (one line), or
    None."""
    if count < 1:
        return f"--workers must be at least 1, got {count}"
    if count == 1:
        return None
    if settings.postgres_url is None:
        return (
            f"--workers {count} needs a database every worker shares: "
            "set DATABASE_URL to PostgreSQL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE); SQLite serves one process"
        )
    if not settings.server.run_envoy:
        return f"--workers {count} needs Envoy in front of the workers: leave out --no-envoy"
    return None
