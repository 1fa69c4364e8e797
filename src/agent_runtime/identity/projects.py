"""The one rule for where agents work. Agent tools read and write inside a
session's project directory with the server's rights, so whoever picks that
directory picks what a run can touch. Every surface that sets or changes it
(mini-devin `/api/sessions`, devin `/api/tasks` `context.working_directory`,
codelab `metadata.project_path`, session-event `project_dir` on create and
on `PATCH …/metadata`, and their gRPC methods) goes through
`ProjectDirectories.choose`, and every run re-checks its session's directory
with `ProjectDirectories.for_run`:

- administrators (the configured API key, the x-internal-auth service token,
  admin `md_` keys, anonymous local clients when allowed; see
  identity/ownership.py) may choose any directory;
- users may choose only a directory under one of `PROJECT_ROOTS`; without
  roots they choose none (403) and get a fresh workspace instead;
- what the server picks itself (a fresh workspace under the data dir, the
  operator's `DEFAULT_WORKSPACE`) is allowed for anyone.

`owner` follows identity/ownership.py: the user who chooses (or owns the
session), None for an administrator.
"""

from __future__ import annotations

import os
import pathlib
import uuid
from typing import Sequence

from agent_runtime.errors import PermissionDenied, ValidationFailed


def inside(path: str, directory: str) -> bool:
    """Whether real path `path` is `directory` or lies under it."""
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def check_project_roots(roots: Sequence[str], data_dir: pathlib.Path) -> None:
    """PROJECT_ROOTS must not overlap the data dir: users could choose it (or
    a directory around it) as a project directory."""
    real_data_dir = os.path.realpath(data_dir)
    for root in roots:
        real_root = os.path.realpath(root)
        if inside(real_data_dir, real_root) or inside(real_root, real_data_dir):
            raise ValueError(
                f"PROJECT_ROOTS entry {root} overlaps the data dir {data_dir} (database, keys, other users' "
                "workspaces): users could choose it as a project directory"
            )


class ProjectDirectories:
    def __init__(self, roots: Sequence[str], workspaces_dir: pathlib.Path, default_workspace: str | None = None):
        self._roots = tuple(roots)
        self._real_roots = tuple(os.path.realpath(root) for root in roots)
        self._workspaces = workspaces_dir.resolve()
        self._default_workspace = default_workspace

    @property
    def default_workspace(self) -> str | None:
        return self._default_workspace

    def choose(self, path: str, *, owner: str | None, field: str = "working_directory", must_exist: bool = True) -> str:
        """The real path of `path` if `owner` may let agents work there;
        else PermissionDenied (no PROJECT_ROOTS) or ValidationFailed
        (outside them), each saying what is allowed. `must_exist=False`
        for surfaces that may name a directory before it exists (session
        events): the run checks it again."""
        real = self._real(path, field)
        # Who may choose it is checked before whether it exists: a user
        # learns nothing about directories outside the roots.
        if self._may_choose(real, owner):
            if must_exist:
                self._check_exists(real, path, field)
            return real
        if not self._roots:
            raise PermissionDenied(
                f"Only administrators choose {field} on this server (PROJECT_ROOTS is not set): "
                f"leave {field} out to get a fresh workspace, or ask the operator to set PROJECT_ROOTS"
            )
        raise ValidationFailed(
            f"{field} must lie under one of PROJECT_ROOTS ({', '.join(self._roots)}); "
            f"leave it out to get a fresh workspace",
            fields={field: "outside PROJECT_ROOTS"},
        )

    def for_run(self, path: str, *, owner: str | None) -> str:
        """The real directory a run of a session owned by `owner` works in.
        A user's session may only work where a user may choose, or in what
        the server picked (fresh workspaces, DEFAULT_WORKSPACE): this also
        holds for directories stored before the rule existed."""
        real = self._real(path, "working_directory")
        if not (self._may_choose(real, owner) or self._picked_by_server(real)):
            raise PermissionDenied(
                f"The session's project directory {path} is outside PROJECT_ROOTS"
                f"{'' if self._roots else ' (not set on this server)'}: only administrators' sessions work there; "
                "use a session without a directory (a fresh workspace) or one under a root"
            )
        self._check_exists(real, path, "working_directory")
        return real

    def _may_choose(self, real: str, owner: str | None) -> bool:
        return owner is None or any(inside(real, root) for root in self._real_roots)

    def _picked_by_server(self, real: str) -> bool:
        if inside(real, str(self._workspaces)):
            return True
        return bool(self._default_workspace) and inside(real, os.path.realpath(self._default_workspace))

    @staticmethod
    def _real(path: str, field: str) -> str:
        if "\x00" in path or not os.path.isabs(path):
            raise ValidationFailed(f"{field} must be an absolute path", fields={field: "must be an absolute path"})
        return os.path.realpath(path)

    @staticmethod
    def _check_exists(real: str, path: str, field: str) -> None:
        if not os.path.isdir(real):
            raise ValidationFailed(
                f"{field} {path} is not an existing directory", fields={field: "must be an existing directory"}
            )

    def new_workspace_path(self) -> pathlib.Path:
        """Where a fresh workspace goes (the caller creates it)."""
        return self._workspaces / uuid.uuid4().hex
