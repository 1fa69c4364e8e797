"""The baseline: the session-event endpoints written the way such servers
usually are — FastAPI + pydantic + aiosqlite, one uvicorn process, the same
SQLite settings (WAL, synchronous=NORMAL) and the same X-API-Key check.

    uvicorn bench.peers.fastapi_sessions:app --port 8200
"""

from __future__ import annotations

import datetime
import json
import os
import uuid
from typing import Any

import aiosqlite
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel

DATABASE = os.environ.get("PEER_DATABASE", "peer.sqlite3")
API_KEY = os.environ.get("PEER_API_KEY", "bench-key")

app = FastAPI(title="session-event peer")
db: aiosqlite.Connection


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


async def require_key(x_api_key: str | None = Header(default=None)) -> None:
    if x_api_key != API_KEY:
        raise HTTPException(status_code=401, detail="Invalid API key")


class CreateSession(BaseModel):
    session_id: str
    session_name: str = ""
    project_dir: str | None = None
    agent_name: str | None = None


class Event(BaseModel):
    event_type: str
    session_id: str | None = None
    session_name: str | None = None
    timestamp: str | None = None
    tool_name: str | None = None
    tool_input: dict[str, Any] | None = None
    tool_output: Any = None
    error: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    role: str | None = None
    content: list[dict[str, Any]] | None = None


@app.on_event("startup")
async def open_database() -> None:
    global db
    db = await aiosqlite.connect(DATABASE)
    db.row_factory = aiosqlite.Row
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=NORMAL")
    await db.executescript(
        """
        CREATE TABLE IF NOT EXISTS sessions (
            session_id TEXT PRIMARY KEY, session_name TEXT, status TEXT, created_at TEXT,
            project_dir TEXT, agent_name TEXT);
        CREATE TABLE IF NOT EXISTS events (
            id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT, sequence INTEGER,
            event_type TEXT, timestamp TEXT, body TEXT);
        CREATE INDEX IF NOT EXISTS events_by_session ON events (session_id, sequence);
        """
    )
    await db.commit()


def session_json(row) -> dict[str, Any]:
    return {key: row[key] for key in row.keys() if row[key] is not None}


@app.get("/sessions", dependencies=[Depends(require_key)])
async def list_sessions():
    async with db.execute("SELECT * FROM sessions ORDER BY created_at DESC") as cursor:
        return {"sessions": [session_json(row) for row in await cursor.fetchall()]}


@app.post("/sessions", dependencies=[Depends(require_key)])
async def create_session(body: CreateSession):
    async with db.execute("SELECT 1 FROM sessions WHERE session_id = ?", (body.session_id,)) as cursor:
        if await cursor.fetchone():
            raise HTTPException(status_code=409, detail="Session already exists")
    await db.execute(
        "INSERT INTO sessions VALUES (?, ?, 'running', ?, ?, ?)",
        (body.session_id, body.session_name or body.session_id, now(), body.project_dir, body.agent_name),
    )
    await db.commit()
    async with db.execute("SELECT * FROM sessions WHERE session_id = ?", (body.session_id,)) as cursor:
        return {"ok": True, "session": session_json(await cursor.fetchone())}


@app.get("/sessions/{session_id}", dependencies=[Depends(require_key)])
async def get_session(session_id: str):
    async with db.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)) as cursor:
        row = await cursor.fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail="Session not found")
    return {"session": session_json(row)}


@app.post("/sessions/{session_id}/events", dependencies=[Depends(require_key)])
async def create_event(session_id: str, event: Event):
    async with db.execute("SELECT 1 FROM sessions WHERE session_id = ?", (session_id,)) as cursor:
        if await cursor.fetchone() is None:
            raise HTTPException(status_code=404, detail="Session not found")
    async with db.execute("SELECT COALESCE(MAX(sequence), 0) + 1 FROM events WHERE session_id = ?", (session_id,)) as cursor:
        (sequence,) = await cursor.fetchone()
    body = event.model_dump(exclude_none=True)
    await db.execute(
        "INSERT INTO events (session_id, sequence, event_type, timestamp, body) VALUES (?, ?, ?, ?, ?)",
        (session_id, sequence, event.event_type, event.timestamp or now(), json.dumps(body)),
    )
    if event.event_type == "session_stop":
        await db.execute("UPDATE sessions SET status = 'finished' WHERE session_id = ?", (session_id,))
    await db.commit()
    return {"ok": True}


@app.get("/sessions/{session_id}/events", dependencies=[Depends(require_key)])
async def list_events(session_id: str):
    async with db.execute("SELECT * FROM events WHERE session_id = ? ORDER BY sequence LIMIT 100", (session_id,)) as cursor:
        rows = await cursor.fetchall()
    return {"events": [{**json.loads(row["body"]), "session_id": session_id, "timestamp": row["timestamp"]} for row in rows]}


@app.get("/health")
async def health():
    return {"status": "healthy", "event_id": str(uuid.uuid4())}
