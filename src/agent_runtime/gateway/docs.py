"""gRPC DocsService: the OpenAPI document and Swagger UI browsing it, built
once from the descriptor set the server and Envoy share, and the web console.
Swagger UI's files (swagger_ui/, from the npm package swagger-ui-dist; see
scripts/vendor-swagger-ui) and the console's (console/, written by hand, no
build step) are package data, so an installed wheel serves them with no CDN."""

from __future__ import annotations

import functools
import importlib.resources

from google.api import httpbody_pb2

from agentruntime.v1 import docs_pb2_grpc
from agent_runtime.config import is_loopback
from agent_runtime.errors import NotFound
from agent_runtime.gateway.openapi import build_document, render
from agent_runtime.interceptors.client_address import ClientAddresses

PACKAGE_FILES = importlib.resources.files(__package__)
SWAGGER_UI = "swagger_ui"
CONSOLE = "console"
PAGE = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


@functools.cache
def _openapi_json() -> bytes:
    return render(build_document()).encode()


@functools.cache
def _assets(folder: str) -> dict[str, httpbody_pb2.HttpBody]:
    """Every servable file of `folder`, read once: only these names are
    ever opened."""
    assets = {}
    for entry in (PACKAGE_FILES / folder).iterdir():
        suffix = entry.name[entry.name.rfind(".") :]
        if suffix in CONTENT_TYPES:
            assets[entry.name] = httpbody_pb2.HttpBody(content_type=CONTENT_TYPES[suffix], data=entry.read_bytes())
    return assets


# Marks the console page for a caller the server lets in without a
# credential, so it opens signed in instead of probing (and logging a 401).
ANONYMOUS_MARK = (b"<html lang=\"en\">", b"<html lang=\"en\" data-anonymous=\"local\">")


class DocsServicer(docs_pb2_grpc.DocsServiceServicer):
    def __init__(self, *, allow_anonymous_local: bool = False, addresses: ClientAddresses | None = None):
        self._allow_anonymous_local = allow_anonymous_local
        # The caller's address as the auth interceptor sees it (Envoy's
        # forwarded one only with its secret).
        self._addresses = addresses or ClientAddresses()

    async def GetOpenApiDocument(self, request, context) -> httpbody_pb2.HttpBody:
        return httpbody_pb2.HttpBody(content_type="application/json", data=_openapi_json())

    async def GetDocsPage(self, request, context) -> httpbody_pb2.HttpBody:
        return _assets(SWAGGER_UI)[PAGE]

    async def GetDocsAsset(self, request, context) -> httpbody_pb2.HttpBody:
        return _asset(SWAGGER_UI, request.name, "docs")

    async def GetConsolePage(self, request, context) -> httpbody_pb2.HttpBody:
        page = _assets(CONSOLE)[PAGE]
        if self._allow_anonymous_local and is_loopback(self._addresses.of(context.invocation_metadata(), context.peer())):
            return httpbody_pb2.HttpBody(content_type=page.content_type, data=page.data.replace(*ANONYMOUS_MARK, 1))
        return page

    async def GetConsoleAsset(self, request, context) -> httpbody_pb2.HttpBody:
        return _asset(CONSOLE, request.name, "console")


def _asset(folder: str, name: str, page: str) -> httpbody_pb2.HttpBody:
    asset = _assets(folder).get(name)
    if asset is None:
        raise NotFound(f"No {page} asset {name!r}; the page loads {', '.join(sorted(_assets(folder)))}")
    return asset
