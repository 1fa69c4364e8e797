"""Agent Runtime: runs AI coding agents for other programs over gRPC, with REST,
SSE and WebSocket surfaces derived from the same protos through Envoy."""

__version__ = "0.1.0"
