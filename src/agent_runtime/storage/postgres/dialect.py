"""The adapters' SQL is written once, in the subset SQLite and PostgreSQL
share, with SQLite's `?` placeholders. This turns it into PostgreSQL's:

- `?` becomes `$1`, `$2`, … (never inside a quoted literal);
- `? IS NULL` gets a type (`$n::text IS NULL`): PostgreSQL cannot infer one
  for a parameter only tested for NULL (the adapters' optional owner
  filters, which are text);
- `LIMIT ?` takes SQLite's "no limit", -1, as PostgreSQL's, NULL.

What the shared subset cannot say (SQLite's rowid and json_extract, INSERT
OR REPLACE, sqlite_sequence) the PostgreSQL adapters say in their own SQL."""

from __future__ import annotations

import functools
import re

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|LIMIT \?|\? IS NULL|\?", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    counter = 0

    def placeholder(match: re.Match) -> str:
        nonlocal counter
        token = match.group(0)
        if token[0] in "'\"":
            return token
        counter += 1
        if token.upper().startswith("LIMIT"):
            return f"LIMIT NULLIF(${counter}::bigint, -1)"
        if token.upper().endswith("IS NULL"):
            return f"${counter}::text IS NULL"
        return f"${counter}"

    return _TOKEN.sub(placeholder, sql)


def to_postgres(sql: str, parameters: tuple | list = ()) -> tuple[str, list]:
    return translate(sql), list(parameters)
