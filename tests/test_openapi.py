"""openapi.json: derived from the protos, served by the server, and fuzzed
with schemathesis through Envoy (zero 5xx, responses match the schemas)."""

from __future__ import annotations

import asyncio
import json
import pathlib
import subprocess
import sys
import tomllib

import pytest

from agent_runtime.gateway.openapi import build_document, render
from conftest import TEST_API_KEY

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The checks that hold for any input: no server errors, documented statuses,
# content types and response bodies. Checks that expect every schema-valid
# request to succeed do not fit an API whose documented 400s depend on state
# (a result before the session finished) or on several fields together.
FUZZ_CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_committed_document_is_current():
    assert (ROOT / "openapi.json").read_text() == render(build_document())


def test_document_covers_every_session_event_route():
    paths = build_document()["paths"]
    expected = {
        ("get", "/sessions"), ("post", "/sessions"), ("get", "/sessions/{session_id}"),
        ("get", "/sessions/{session_id}/status"), ("get", "/sessions/{session_id}/result"),
        ("patch", "/sessions/{session_id}/metadata"), ("delete", "/sessions/{session_id}"),
        ("get", "/sessions/{session_id}/events"), ("get", "/events/{session_id}"),
        ("post", "/sessions/{session_id}/events"), ("post", "/events"), ("get", "/health"), ("get", "/"),
    }
    assert expected <= {(verb, path) for path, item in paths.items() for verb in item}
    assert paths["/health"]["get"]["security"] == []


async def test_served_document_and_docs_page(runtime):
    import httpx

    async with httpx.AsyncClient(base_url=runtime.http_url) as anonymous:
        served = await anonymous.get("/openapi.json")
        assert served.status_code == 200 and served.headers["content-type"] == "application/json"
        assert served.json() == build_document()
        page = await anonymous.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "/docs/swagger-ui-bundle.js" in page.text
        missing = await anonymous.get("/docs/no-such-file.js")
        assert missing.status_code == 404 and "swagger-ui-bundle.js" in missing.json()["detail"]


async def test_console_page_and_files_are_open(runtime):
    import httpx

    async with httpx.AsyncClient(base_url=runtime.http_url) as anonymous:
        # The address people type reaches the page.
        typed = await anonymous.get("/console/")
        assert typed.status_code == 301 and typed.headers["location"].endswith("/console")
        page = await anonymous.get("/console")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/console/app.js">' in page.text
        # Without --allow-anonymous-local the page asks to sign in.
        assert "data-anonymous" not in page.text
        for name, content_type in (("app.js", "text/javascript"), ("console.css", "text/css")):
            asset = await anonymous.get(f"/console/{name}")
            assert asset.status_code == 200 and asset.headers["content-type"].startswith(content_type)
        missing = await anonymous.get("/console/no-such-file.js")
        assert missing.status_code == 404 and "app.js" in missing.json()["detail"]


def test_document_names_its_servers_and_license():
    document = build_document()
    # Relative first: try-it calls go to the server that served the page.
    assert document["servers"][0]["url"] == "/"
    assert document["info"]["license"] == {"name": "Apache-2.0", "identifier": "Apache-2.0"}


def test_the_license_is_apache_2_everywhere_it_is_named():
    """The document, the server's and the clients' package metadata and the
    LICENSE files they ship name the same licence, and the files hold its
    full text."""
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in license_text and "APPENDIX: How to apply the Apache License" in license_text
    identifier = build_document()["info"]["license"]["identifier"]
    for pyproject in (ROOT / "pyproject.toml", ROOT / "clients/python/pyproject.toml"):
        project = tomllib.loads(pyproject.read_text())["project"]
        assert (project["license"], project["license-files"]) == (identifier, ["LICENSE"]), pyproject
    assert json.loads((ROOT / "clients/node/package.json").read_text())["license"] == identifier
    for client in ("python", "node", "go"):
        assert (ROOT / "clients" / client / "LICENSE").read_text() == license_text, client


async def test_every_documented_route_reaches_a_method(http):
    """No path in the document is one that Envoy cannot route to a method."""
    for path, item in build_document()["paths"].items():
        concrete = path.replace("{", "").replace("}", "")
        for verb in item:
            response = await http.request(verb.upper(), concrete, json={} if verb in ("post", "patch", "put") else None)
            assert "Could not resolve" not in response.text, (verb, path)


@pytest.mark.long
@pytest.mark.slow
async def test_schemathesis_finds_no_server_errors_or_schema_violations(runtime):
    schemathesis = pathlib.Path(sys.executable).parent / "schemathesis"
    # The coverage phase tries every operation's boundaries and wrong types
    # (about 2,400 cases); the fuzzing phase adds 10 generated examples per
    # operation (25 made 1,100 more cases, 13 s more CPU).
    command = [
        str(schemathesis), "run", f"{runtime.http_url}/openapi.json", "--header", f"x-api-key: {TEST_API_KEY}",
        "--checks", FUZZ_CHECKS, "--max-examples", "10", "--seed", "20261122", "--generation-deterministic",
    ]
    result = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-6000:]
