"""The built-in tools: files, search, commands, git and the plan."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import pathlib
import re
from typing import Any

from agent_runtime.tools.base import ToolContext, ToolOutcome, cap, optional_int, require_str
from agent_runtime.tools.process import run_command
from agent_runtime.tools.sandbox import ToolError

SKIPPED_DIRS = {".git", "node_modules", "__pycache__", ".venv", ".mypy_cache", ".pytest_cache"}
PLAN_STATUSES = ("pending", "in_progress", "completed", "skipped")


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


class ReadFile:
    name = "read_file"
    description = "Read a text file of the project. Optional 1-based start_line and max_lines select a part."
    parameters = _schema(
        {
            "path": {"type": "string", "description": "file path relative to the project root"},
            "start_line": {"type": "integer", "minimum": 1},
            "max_lines": {"type": "integer", "minimum": 1},
        },
        ["path"],
    )

    async def run(self, arguments, context: ToolContext) -> ToolOutcome:
        path = context.workspace.resolve(require_str(arguments, "path"), must_exist=True)
        start = optional_int(arguments, "start_line", 1, 1, 10**9)
        count = optional_int(arguments, "max_lines", 0, 0, 10**9)
        if not path.is_file():
            raise ToolError(f"{context.workspace.relative(path)} is not a file")
        size = path.stat().st_size
        if size > context.max_file_bytes:
            raise ToolError(f"file is {size} bytes, more than the {context.max_file_bytes} bytes a read may return; read a part with start_line/max_lines")
        data = await asyncio.to_thread(path.read_bytes)
        if b"\x00" in data[:8192]:
            raise ToolError(f"{context.workspace.relative(path)} is a binary file")
        text = data.decode("utf-8", errors="replace")
        if start > 1 or count:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[start - 1 : (start - 1 + count) if count else None])
        return ToolOutcome(cap(text, context.output_limit))


class WriteFile:
    name = "write_file"
    description = "Create or overwrite a text file of the project with the given content (parent directories are created)."
    parameters = _schema({"path": {"type": "string"}, "content": {"type": "string"}}, ["path", "content"])

    async def run(self, arguments, context: ToolContext) -> ToolOutcome:
        content = require_str(arguments, "content", allow_empty=True)
        if len(content.encode()) > context.max_file_bytes:
            raise ToolError(f"content is larger than {context.max_file_bytes} bytes")
        path = context.workspace.resolve(require_str(arguments, "path"), for_write=True)
        if path.is_dir():
            raise ToolError(f"{context.workspace.relative(path)} is a directory")
        # Create parents one by one, re-checking that each stays inside.
        context.workspace.resolve(str(path.parent), for_write=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        context.workspace.resolve(str(path.parent), for_write=True)

        def write() -> None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
            descriptor = os.open(path, flags, 0o644)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(content)

        try:
            await asyncio.to_thread(write)
        except OSError as error:
            raise ToolError(f"cannot write {context.workspace.relative(path)}: {error.strerror}") from None
        return ToolOutcome(f"wrote {len(content.encode())} bytes to {context.workspace.relative(path)}")


class DeleteFile:
    name = "delete_file"
    description = "Delete a file of the project (not a directory)."
    parameters = _schema({"path": {"type": "string"}}, ["path"])

    async def run(self, arguments, context: ToolContext) -> ToolOutcome:
        raw = require_str(arguments, "path")
        # Refuse the link itself too: deleting a symlink that points out is
        # harmless, but a path that resolves out is refused.
        path = context.workspace.resolve(raw, for_write=True, must_exist=True)
        if path.is_dir():
            raise ToolError(f"{context.workspace.relative(path)} is a directory; only files can be deleted")
        path.unlink()
        return ToolOutcome(f"deleted {context.workspace.relative(path)}")


class ListFiles:
    name = "list_files"
    description = "List files and directories under a project path (recursive by default, skipping .git and dependency folders)."
    parameters = _schema(
        {"path": {"type": "string", "default": "."}, "recursive": {"type": "boolean", "default": True}, "pattern": {"type": "string", "description": "glob on the file name, e.g. *.py"}},
        [],
    )
    max_entries = 1000

    async def run(self, arguments, context: ToolContext) -> ToolOutcome:
        root = context.workspace.resolve(arguments.get("path") or ".", must_exist=True)
        recursive = arguments.get("recursive", True) is not False
        pattern = arguments.get("pattern") or "*"
        if not root.is_dir():
            raise ToolError(f"{context.workspace.relative(root)} is not a directory")

        def walk() -> list[str]:
            found: list[str] = []
            for directory, dirs, files in os.walk(root, followlinks=False):
                dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
                base = pathlib.Path(directory)
                for name in sorted(dirs):
                    if fnmatch.fnmatch(name, pattern):
                        found.append(context.workspace.relative(base / name) + "/")
                for name in sorted(files):
                    if fnmatch.fnmatch(name, pattern):
                        found.append(context.workspace.relative(base / name))
                if len(found) > self.max_entries or not recursive:
                    break
            return found

        entries = await asyncio.to_thread(walk)
        more = len(entries) > self.max_entries
        text = "\n".join(entries[: self.max_entries]) or "(empty)"
        if more:
            text += f"\n… [more than {self.max_entries} entries; list a subdirectory]"
        return ToolOutcome(cap(text, context.output_limit))


class SearchInCode:
    name = "search_in_code"
    description = "Search the project's text files for a regular expression (or plain text with regex=false); answers path:line: text."
    parameters = _schema(
        {
            "query": {"type": "string"},
            "path": {"type": "string", "default": "."},
            "regex": {"type": "boolean", "default": True},
            "file_pattern": {"type": "string", "description": "glob on file names, e.g. *.py"},
        },
        ["query"],
    )
    max_matches = 200
    max_file_bytes = 1024 * 1024

    async def run(self, arguments, context: ToolContext) -> ToolOutcome:
        query = require_str(arguments, "query")
        root = context.workspace.resolve(arguments.get("path") or ".", must_exist=True)
        pattern = arguments.get("file_pattern") or "*"
        try:
            matcher = re.compile(query if arguments.get("regex", True) is not False else re.escape(query))
        except re.error as error:
            raise ToolError(f"bad regular expression: {error}") from None

        def search() -> list[str]:
            hits: list[str] = []
            candidates = [root] if root.is_file() else None
            if candidates is None:
                candidates = []
                for directory, dirs, files in os.walk(root, followlinks=False):
                    dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
                    candidates.extend(pathlib.Path(directory) / f for f in sorted(files) if fnmatch.fnmatch(f, pattern))
            for file in candidates:
                if file.is_symlink() or not file.is_file() or file.stat().st_size > self.max_file_bytes:
                    continue
                data = file.read_bytes()
                if b"\x00" in data[:8192]:
                    continue
                for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
                    if matcher.search(line):
                        hits.append(f"{context.workspace.relative(file)}:{number}: {line[:300]}")
                        if len(hits) > self.max_matches:
                            return hits
            return hits

        hits = await asyncio.to_thread(search)
        text = "\n".join(hits[: self.max_matches]) or "no matches"
        if len(hits) > self.max_matches:
            text += f"\n… [more than {self.max_matches} matches; narrow the search]"
        return ToolOutcome(cap(text, context.output_limit))


class ExecuteCommand:
    name = "execute_command"
    description = "Run a shell command in the project directory (timeout and output cap apply). Answers the exit code and output."
    parameters = _schema(
        {"command": {"type": "string"}, "timeout": {"type": "number", "description": "seconds, at most the server's limit"}},
        ["command"],
    )

    async def run(self, arguments, context: ToolContext) -> ToolOutcome:
        command = require_str(arguments, "command")
        if "\x00" in command:
            raise ToolError("command contains a NUL byte")
        timeout = arguments.get("timeout") or context.command_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ToolError("timeout must be a positive number of seconds")
        timeout = min(float(timeout), context.command_timeout)
        code, output, timed_out = await run_command(
            ["/bin/sh", "-c", command],
            str(context.workspace.root),
            timeout=timeout,
            output_limit=context.output_limit,
            sandbox=context.sandbox,
            network=context.network,
            track_dir=context.commands_dir,
        )
        if timed_out:
            return ToolOutcome(f"command timed out after {timeout:g}s and was killed\n{output}", success=False)
        limit = context.sandbox.settings.limit_hint(code, output) if context.sandbox.contains else None
        if limit:
            return ToolOutcome(f"exit code {code}: {limit}\n{output}", success=False, exit_code=code)
        return ToolOutcome(f"exit code {code}\n{output}", success=code == 0, exit_code=code)


async def git(context: ToolContext, *args: str, stdin: bytes | None = None) -> tuple[int, str]:
    code, output, timed_out = await run_command(
        ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.pager=cat", *args],
        str(context.workspace.root),
        timeout=context.command_timeout,
        output_limit=context.output_limit,
        sandbox=context.sandbox,
        stdin=stdin,
    )
    if timed_out:
        raise ToolError(f"git {args[0]} timed out")
    return code or 0, output


class GitDiff:
    name = "git_diff"
    description = "Show uncommitted changes of the project (git diff against HEAD, staged and unstaged), optionally for one path."
    parameters = _schema({"path": {"type": "string"}}, [])

    async def run(self, arguments, context: ToolContext) -> ToolOutcome:
        args = ["diff", "HEAD"]
        if arguments.get("path"):
            path = context.workspace.resolve(require_str(arguments, "path"))
            args += ["--", context.workspace.relative(path)]
        code, output = await git(context, *args)
        if code != 0:
            code, output = await git(context, "diff", *args[2:])
            if code != 0:
                raise ToolError(f"git diff failed: {output.strip()}")
        return ToolOutcome(output or "no changes")


class GitCommit:
    name = "git_commit"
    description = "Stage all changes of the project (or the given paths) and commit them with a message."
    parameters = _schema(
        {"message": {"type": "string"}, "paths": {"type": "array", "items": {"type": "string"}}}, ["message"]
    )

    async def run(self, arguments, context: ToolContext) -> ToolOutcome:
        message = require_str(arguments, "message")
        paths = arguments.get("paths") or []
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ToolError("paths must be a list of strings")
        relative = [context.workspace.relative(context.workspace.resolve(p)) for p in paths]
        code, output = await git(context, "add", "-A", "--", *(relative or ["."]))
        if code != 0:
            raise ToolError(f"git add failed: {output.strip()}")
        code, output = await git(context, "commit", "-q", "-F", "-", stdin=message.encode())
        if code != 0:
            raise ToolError(f"git commit failed: {output.strip() or 'nothing to commit'}")
        _, head = await git(context, "rev-parse", "--short", "HEAD")
        return ToolOutcome(f"committed {head.strip()}: {message.splitlines()[0]}")


class UpdatePlan:
    name = "update_plan"
    description = "Replace the task's plan: the ordered steps with status pending, in_progress, completed or skipped."
    parameters = _schema(
        {
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "description": {"type": "string"},
                        "status": {"type": "string", "enum": list(PLAN_STATUSES)},
                    },
                    "required": ["description"],
                },
            }
        },
        ["steps"],
    )
    max_steps = 100

    async def run(self, arguments, context: ToolContext) -> ToolOutcome:
        steps = arguments.get("steps")
        if not isinstance(steps, list) or not steps:
            raise ToolError("steps must be a non-empty list")
        if len(steps) > self.max_steps:
            raise ToolError(f"a plan has at most {self.max_steps} steps")
        plan = []
        for index, step in enumerate(steps, 1):
            if not isinstance(step, dict) or not isinstance(step.get("description"), str) or not step["description"]:
                raise ToolError(f"step {index} needs a description")
            status = step.get("status") or "pending"
            if status not in PLAN_STATUSES:
                raise ToolError(f"step {index}: status must be one of {', '.join(PLAN_STATUSES)}")
            plan.append({"id": str(step.get("id") or f"step-{index}"), "description": step["description"][:1000], "status": status})
        if context.save_plan is None:
            raise ToolError("this run keeps no plan")
        await context.save_plan(plan)
        done = sum(1 for s in plan if s["status"] == "completed")
        return ToolOutcome(f"plan saved: {len(plan)} steps, {done} completed")


BUILTIN_TOOLS = {tool.name: tool for tool in (ReadFile(), WriteFile(), ListFiles(), SearchInCode(), ExecuteCommand(), GitDiff(), GitCommit(), DeleteFile(), UpdatePlan())}
