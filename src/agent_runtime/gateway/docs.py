"""gRPC DocsService: the OpenAPI document and Swagger UI browsing it, built
once from the descriptor set the server and Envoy share. Swagger UI's files
are package data (swagger_ui/, from the npm package swagger-ui-dist; see
scripts/vendor-swagger-ui), so an installed wheel serves them with no CDN."""

from __future__ import annotations

import functools
import importlib.resources

from google.api import httpbody_pb2

from agentruntime.v1 import docs_pb2_grpc
from agent_runtime.errors import NotFound
from agent_runtime.gateway.openapi import build_document, render

SWAGGER_UI = importlib.resources.files(__package__) / "swagger_ui"
DOCS_PAGE = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


@functools.cache
def _openapi_json() -> bytes:
    return render(build_document()).encode()


@functools.cache
def _assets() -> dict[str, httpbody_pb2.HttpBody]:
    """Every servable file, read once: only these names are ever opened."""
    assets = {}
    for entry in SWAGGER_UI.iterdir():
        suffix = entry.name[entry.name.rfind(".") :]
        if suffix in CONTENT_TYPES:
            assets[entry.name] = httpbody_pb2.HttpBody(content_type=CONTENT_TYPES[suffix], data=entry.read_bytes())
    return assets


class DocsServicer(docs_pb2_grpc.DocsServiceServicer):
    async def GetOpenApiDocument(self, request, context) -> httpbody_pb2.HttpBody:
        return httpbody_pb2.HttpBody(content_type="application/json", data=_openapi_json())

    async def GetDocsPage(self, request, context) -> httpbody_pb2.HttpBody:
        return _assets()[DOCS_PAGE]

    async def GetDocsAsset(self, request, context) -> httpbody_pb2.HttpBody:
        asset = _assets().get(request.name)
        if asset is None:
            raise NotFound(f"No docs asset {request.name!r}; the page loads {', '.join(sorted(_assets()))}")
        return asset
