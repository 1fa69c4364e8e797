"""Path confinement: every path a tool touches is resolved to a real path
inside the project directory. `..`, absolute paths outside it, symlinks that
lead out, `~`, NUL bytes and paths into `.git` (for writes) are refused."""

from __future__ import annotations

import os
import pathlib

MAX_PATH_CHARS = 4096


class ToolError(Exception):
    """A tool failed in a way the model can act on; its text goes back to the
    model as the tool's result."""


class Workspace:
    def __init__(self, root: str | os.PathLike):
        real = os.path.realpath(root)
        if not os.path.isdir(real):
            raise ToolError(f"project directory {root} does not exist")
        self.root = pathlib.Path(real)

    def resolve(self, path: str, *, for_write: bool = False, must_exist: bool = False) -> pathlib.Path:
        """The real path of `path` (relative to the project, or absolute
        inside it). Raises ToolError when it would leave the project."""
        if not isinstance(path, str):
            raise ToolError("path must be a string")
        if "\x00" in path:
            raise ToolError("path contains a NUL byte")
        if len(path) > MAX_PATH_CHARS:
            raise ToolError(f"path is longer than {MAX_PATH_CHARS} characters")
        text = path.strip() or "."
        if text.startswith("~"):
            raise ToolError(f"path {path!r} points at a home directory; use a path inside the project")
        candidate = text if os.path.isabs(text) else os.path.join(self.root, text)
        # realpath follows every symlink, including in the last component, so
        # a link that leads out of the project resolves outside and is refused.
        real = pathlib.Path(os.path.realpath(candidate))
        if real != self.root and self.root not in real.parents:
            raise ToolError(f"path {path!r} is outside the project directory")
        if for_write:
            relative = real.relative_to(self.root)
            if relative.parts and relative.parts[0] == ".git":
                raise ToolError("writing inside .git is not allowed")
        if must_exist and not real.exists():
            raise ToolError(f"{self.relative(real)} does not exist")
        return real

    def relative(self, path: pathlib.Path) -> str:
        relative = path.relative_to(self.root).as_posix()
        return relative or "."
