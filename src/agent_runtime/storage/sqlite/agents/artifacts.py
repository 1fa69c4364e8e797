"""SQLite adapter of the agents' ArtifactRepository."""

from __future__ import annotations

from agent_runtime.agents.models import ArtifactRecord
from agent_runtime.storage.sqlite.agents.rows import check_lease
from agent_runtime.storage.sqlite.database import Database


class SqliteArtifactRepository:
    def __init__(self, database: Database):
        self._db = database

    async def put_artifact(self, artifact: ArtifactRecord) -> None:
        async with self._db.transaction() as tx:
            await check_lease(tx, artifact.task_id)
            await tx.execute("DELETE FROM task_artifacts WHERE task_id = ? AND name = ?", (artifact.task_id, artifact.name))
            await tx.execute(
                "INSERT INTO task_artifacts (artifact_id, task_id, name, type, content_type, content, size, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    artifact.artifact_id,
                    artifact.task_id,
                    artifact.name,
                    artifact.type,
                    artifact.content_type,
                    artifact.content,
                    artifact.size,
                    artifact.created_at,
                ),
            )

    async def list_artifacts(self, task_id: str) -> list[ArtifactRecord]:
        rows = await self._db.fetch_all(
            "SELECT artifact_id, task_id, name, type, content_type, size, created_at FROM task_artifacts"
            " WHERE task_id = ? ORDER BY created_at, name",
            (task_id,),
        )
        return [ArtifactRecord(**{k: row[k] for k in row.keys()}) for row in rows]

    async def get_artifact(self, task_id: str, id_or_name: str) -> ArtifactRecord | None:
        row = await self._db.fetch_one(
            "SELECT artifact_id, task_id, name, type, content_type, size, created_at, content FROM task_artifacts"
            " WHERE task_id = ? AND (artifact_id = ? OR name = ?)",
            (task_id, id_or_name, id_or_name),
        )
        return ArtifactRecord(**{k: row[k] for k in row.keys()}) if row else None
