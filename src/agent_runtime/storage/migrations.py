"""Numbered migrations, one directory per engine (`sqlite/migrations/`,
`postgres/migrations/`): files named NNNN_name.sql, applied in version
order, each version once."""

from __future__ import annotations

import importlib.resources.abc
import re

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def migration_files(directory: importlib.resources.abc.Traversable) -> list[tuple[int, str, importlib.resources.abc.Traversable]]:
    """(version, name, file) of each migration in `directory`, in version order."""
    found = []
    for path in sorted((entry for entry in directory.iterdir() if entry.name.endswith(".sql")), key=lambda entry: entry.name):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise RuntimeError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append((int(match.group(1)), match.group(2), path))
    versions = [version for version, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found
