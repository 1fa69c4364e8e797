"""The gateway: Envoy config rendering and supervision, and the WebSocket
bridge that Envoy routes /ws* to."""
