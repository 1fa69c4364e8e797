"""Shared helpers for the agent tests: temp git projects, polling and SSE
reading."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def git_project(path):
    path.mkdir(parents=True)
    (path / "README.md").write_text("# demo\nhello world\n")
    (path / "src").mkdir()
    (path / "src" / "app.py").write_text("def add(a, b):\n    return a + b\n")
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=path, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=path, check=True, env={**os.environ, **GIT_ENV})
    return path


def git_log(path) -> list[str]:
    out = subprocess.run(["git", "log", "--format=%s"], cwd=path, capture_output=True, text=True, check=True).stdout
    return out.split("\n")[:-1]


async def wait_for(fetch, predicate, timeout: float = 10.0):
    """Polls `fetch()` until `predicate(value)`; returns the value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if predicate(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting; last value: {value}")
        await asyncio.sleep(0.05)


async def new_session(http, project, name: str = "Bug Fix Session") -> str:
    """A mini-devin project session on `project`; returns its id."""
    response = await http.post("/api/sessions", json={"name": name, "working_directory": str(project)})
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def sse(http, path: str, body: dict | None = None, headers: dict | None = None, params: dict | None = None) -> list[dict]:
    """POSTs `body` (GETs without one) and reads the answer as a plain SSE
    client: `data: {…}` lines."""
    events = []
    method = "GET" if body is None else "POST"
    async with http.stream(method, path, json=body, headers=headers, params=params, timeout=20) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream"), (response.headers, await response.aread())
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
    return events


def unsequenced(event: dict) -> dict:
    """A stream event without its `sequence` (resuming by it is tested in
    test_hitl.py), to compare with a literal."""
    return {key: value for key, value in event.items() if key != "sequence"}


async def codelab_session(http, project, **settings) -> str:
    """A codelab session (`POST /api/v1/sessions`) working in `project`."""
    body = {"user_id": "user_123", "metadata": {"project_path": str(project)}, **settings}
    response = await http.post("/api/v1/sessions", json=body)
    assert response.status_code == 200, response.text
    return response.json()["session_id"]
