"""In-process event bus: publish after commit, fan out to subscribers."""
