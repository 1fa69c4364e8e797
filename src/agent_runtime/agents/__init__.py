"""Agent types and agent runs."""
