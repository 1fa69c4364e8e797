"""The client libraries' versions follow the server's (README: Client libraries)."""

from __future__ import annotations

import json
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_client_versions_follow_the_server():
    server = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    python_client = tomllib.loads((ROOT / "clients/python/pyproject.toml").read_text())["project"]["version"]
    node_client = json.loads((ROOT / "clients/node/package.json").read_text())["version"]
    assert python_client == node_client == server
