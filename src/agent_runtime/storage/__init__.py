"""Storage adapters behind the domains' ports, one package per engine
(`sqlite/`, the embedded default), and engine-agnostic helpers such as
group commit."""
