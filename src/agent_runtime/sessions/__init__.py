"""Sessions and their append-only event log (session-event-server document)."""
