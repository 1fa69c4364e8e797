"""gRPC DocsService: the OpenAPI document and the page that browses it,
built once from the descriptor set the server and Envoy share."""

from __future__ import annotations

import functools
import pathlib

from google.api import httpbody_pb2

from agentruntime.v1 import docs_pb2_grpc
from agent_runtime.gateway.openapi import build_document, render

DOCS_PAGE = pathlib.Path(__file__).with_name("docs.html")


@functools.cache
def _openapi_json() -> bytes:
    return render(build_document()).encode()


class DocsServicer(docs_pb2_grpc.DocsServiceServicer):
    async def GetOpenApiDocument(self, request, context) -> httpbody_pb2.HttpBody:
        return httpbody_pb2.HttpBody(content_type="application/json", data=_openapi_json())

    async def GetDocsPage(self, request, context) -> httpbody_pb2.HttpBody:
        return httpbody_pb2.HttpBody(content_type="text/html; charset=utf-8", data=DOCS_PAGE.read_bytes())
