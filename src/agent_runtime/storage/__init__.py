"""Storage adapters behind the domains' ports, one package per engine
(`sqlite/`, the embedded default). Adapters import only the ports and
records of the domains they serve."""
