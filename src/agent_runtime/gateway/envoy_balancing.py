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


def retry_policy(workers: int) -> str:
    """With several workers, a request no worker took (it was refused, its
    connection failed, or a draining worker answered UNAVAILABLE) is tried
    on another; one a worker may have started is never retried."""
    policy = {
        "retry_on": "unavailable,connect-failure,refused-stream,reset-before-request",
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
    return f"\n                retry_policy: {json.dumps(policy)}"
