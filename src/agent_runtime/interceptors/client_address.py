"""The calling client's IP address, for per-IP rate limits and anonymous
local access.

Envoy sets `x-client-address` to the downstream address on every request,
overwriting any value a client sent (gateway/envoy_templates/listener.yaml). But the gRPC port
is reachable without Envoy too, and on loopback a peer address says nothing
about who is calling: any local process (an agent's command included) could
send its own `x-client-address` and pick a fresh rate-limit budget per
request. So Envoy also sends `x-gateway-secret`, a random value the server
makes at each start and renders only into Envoy's config (a 0600 file in the
data directory); Envoy overwrites that header from clients too. The forwarded
address is honoured only with the matching secret: knowing it takes reading
the server's own files, which a client of the API cannot. Without the secret
a call counts under its real peer address. The WebSocket bridge passes both
headers on from Envoy's request, so it proves nothing by itself: a client
connecting to the bridge directly has no secret either."""

from __future__ import annotations

import hmac

from agent_runtime.interceptors import metadata_value

CLIENT_ADDRESS_HEADER = "x-client-address"
GATEWAY_SECRET_HEADER = "x-gateway-secret"


class ClientAddresses:
    """Resolves a call's client address; `gateway_secret` is the value Envoy
    sends (None without Envoy: the forwarded address is never honoured)."""

    def __init__(self, gateway_secret: str | None = None):
        self._secret = gateway_secret.encode() if gateway_secret else None

    def of(self, metadata, peer: str) -> str:
        if self._secret is not None:
            sent = metadata_value(metadata, GATEWAY_SECRET_HEADER)
            if sent and hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), self._secret):
                forwarded = metadata_value(metadata, CLIENT_ADDRESS_HEADER)
                if forwarded:
                    return forwarded.strip()[:64]
        return peer_host(peer)


def peer_host(peer: str) -> str:
    # grpc peers look like ipv4:127.0.0.1:5000 or ipv6:[::1]:5000
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return rest or peer
