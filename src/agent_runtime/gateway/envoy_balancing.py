"""The parts of Envoy's config for `serve --workers N` (gateway/envoy.py
renders them into its templates): an endpoint per worker, least-request
balancing with health checks, and retries of what no worker took."""

from __future__ import annotations

import json
from typing import Sequence


def endpoints(address: str, ports: Sequence[int]) -> str:
    return json.dumps([{"endpoint": {"address": {"socket_address": {"address": address, "port_value": port}}}} for port in ports])


def balancing(health_check: dict) -> str:
    """Least-request balancing over the workers, and an active health check
    so a stopping or dead worker gets no new requests; never "panic" routing
    to unhealthy ones (Envoy's default once half of them are down)."""
    return "".join(
        f"\n      {name}: {json.dumps(value)}"
        for name, value in (
            ("lb_policy", "LEAST_REQUEST"),
            ("common_lb_config", {"healthy_panic_threshold": {"value": 0}}),
            (
                "health_checks",
                [
                    {
                        "timeout": "1s",
                        "interval": "1s",
                        "no_traffic_interval": "1s",
                        "unhealthy_threshold": 1,
                        "healthy_threshold": 1,
                        **health_check,
                    }
                ],
            ),
        )
    )


# What no worker took: refused, a connection that failed or broke before the
# request went out, or UNAVAILABLE from a draining worker.
NOT_TAKEN = "unavailable,connect-failure,refused-stream,reset-before-request"


def _retries(workers: int, retry_on: str) -> dict:
    return {
        "retry_on": retry_on,
        "num_retries": workers,
        "retry_host_predicate": [
            {
                "name": "envoy.retry_host_predicates.previous_hosts",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
                },
            }
        ],
        "host_selection_retry_max_attempts": 5,
    }


def retry_policy(workers: int) -> str:
    """The virtual host's: a request no worker took is tried on another;
    one a worker may have started (its connection broke later) is not."""
    return f"\n                retry_policy: {json.dumps(_retries(workers, NOT_TAKEN))}"


# The read-only RPCs: AIP's standard Get and List methods (REST GETs reach
# the routes as their gRPC path, once the transcoder rewrote it).
READ_METHODS = r"/agentruntime\.v1\.[A-Za-z]+/(Get|List)[A-Za-z]*"


def read_route(workers: int) -> str:
    """Reads change nothing: they are also retried when their connection
    broke (a worker killed before Envoy noticed its connection was gone).
    The native gRPC route's, for the read methods alone."""
    route = {
        "match": {
            "safe_regex": {"regex": READ_METHODS},
            "headers": [{"name": "content-type", "string_match": {"prefix": "application/grpc"}}],
        },
        "route": {"cluster": "grpc_backend", "timeout": "0s", "retry_policy": _retries(workers, NOT_TAKEN + ",reset")},
        "typed_per_filter_config": {
            "envoy.filters.http.buffer": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute",
                "disabled": True,
            },
            "envoy.filters.http.header_mutation": {
                "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
                "disabled": True,
            },
        },
    }
    return f"\n                  - {json.dumps(route)}"
