"""Tools an agent can call, confined to its project directory."""
