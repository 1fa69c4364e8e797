"""Every RPC of every service and every REST route Envoy transcodes to one,
read from the descriptor set, so that RPCs and routes added later are
covered by the auth tests without touching them (test_auth_routes.py
through Envoy, test_auth_methods.py on the bare gRPC server)."""

from __future__ import annotations

import dataclasses
import functools
import re

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from agent_runtime.gateway.envoy import DESCRIPTOR_SET, PROTO_PACKAGE

# The value of every path variable of a route.
DUMMY = "dummy-id-0"
# Methods for administrators only: users get 403 / PERMISSION_DENIED
# (test_ml_ownership.py shows the answer).
ADMINISTRATOR_ONLY = {"/agentruntime.v1.MLService/RegisterModel"}
USER_CREDENTIALS = {"user JWT", "user md_ key", "user md_ key as Bearer"}
_VARIABLE = re.compile(r"\{([^}=]*)[^}]*\}")


def refused_as_user(rpc: str, kind: str) -> bool:
    return rpc in ADMINISTRATOR_ONLY and kind in USER_CREDENTIALS


@dataclasses.dataclass(frozen=True)
class Route:
    rpc: str
    verb: str
    path: str
    has_body: bool
    server_streaming: bool
    variables: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.verb} {self.path} ({self.rpc})"


@dataclasses.dataclass(frozen=True)
class Method:
    rpc: str
    input_type: str
    client_streaming: bool
    server_streaming: bool
    routes: tuple[Route, ...]

    def requests(self) -> list[bytes]:
        """The empty request, then for each route the request Envoy makes of
        `{}` sent to it: its path variables set to DUMMY."""
        message_class = _message_class(self.input_type)
        requests = [b""]
        for route in self.routes:
            request = message_class()
            for variable in route.variables:
                setattr(request, variable, DUMMY)
            requests.append(request.SerializeToString())
        return requests


def _files() -> list[descriptor_pb2.FileDescriptorProto]:
    return list(descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes()).file)


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for file in _files():
        pool.Add(file)
    return pool


def _message_class(full_name: str):
    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(full_name.lstrip(".")))


def _bindings(rule: http_pb2.HttpRule):
    yield rule
    for extra in rule.additional_bindings:
        yield from _bindings(extra)


def _routes(method: descriptor_pb2.MethodDescriptorProto, rpc: str) -> tuple[Route, ...]:
    if not method.options.HasExtension(annotations_pb2.http):
        return ()
    routes = []
    for rule in _bindings(method.options.Extensions[annotations_pb2.http]):
        pattern = rule.WhichOneof("pattern")
        if pattern == "custom":
            verb, template = rule.custom.kind.upper(), rule.custom.path
        else:
            verb, template = pattern.upper(), getattr(rule, pattern)
        path = _VARIABLE.sub(DUMMY, template)
        variables = tuple(_VARIABLE.findall(template))
        routes.append(Route(rpc, verb, path, bool(rule.body), method.server_streaming, variables))
    return tuple(routes)


def grpc_methods() -> list[Method]:
    methods = []
    for file in _files():
        if file.package != PROTO_PACKAGE:
            continue
        for service in file.service:
            for method in service.method:
                rpc = f"/{file.package}.{service.name}/{method.name}"
                routes = _routes(method, rpc)
                methods.append(Method(rpc, method.input_type, method.client_streaming, method.server_streaming, routes))
    return methods


METHODS = grpc_methods()
ROUTES = [route for method in METHODS for route in method.routes]

