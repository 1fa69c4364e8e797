"""The project's git, run contained like the agent's commands: the base
commit a task starts from, and its changes as `diff.patch`; with the plan,
the artifacts a finished task keeps."""

from __future__ import annotations

import json
import uuid

from agent_runtime.agents.models import ArtifactRecord, TaskRecord
from agent_runtime.identity.projects import ProjectDirectories
from agent_runtime.tools.containment import Sandbox
from agent_runtime.tools.process import run_command
from agent_runtime.tools.sandbox import ToolError

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


async def git_output(sandbox: Sandbox, cwd: str, *args: str, timeout: float = 30) -> tuple[int | None, bytes]:
    """git in the project, contained like the agent's commands: a project's
    own git config (fsmonitor, diff drivers, filters) runs programs."""
    try:
        code, output, _ = await run_command(
            ["git", "-c", "core.hooksPath=/dev/null", *args], cwd, timeout=timeout, output_limit=8 * 1024 * 1024, sandbox=sandbox
        )
    except ToolError as error:
        return None, str(error).encode()
    return code, output.encode()


async def head_commit(sandbox: Sandbox, cwd: str) -> str | None:
    """HEAD of the project's git repository; the empty tree for a repository
    without commits; None when it is no repository."""
    code, _ = await git_output(sandbox, cwd, "rev-parse", "--is-inside-work-tree")
    if code != 0:
        return None
    code, output = await git_output(sandbox, cwd, "rev-parse", "HEAD")
    return output.decode().strip() if code == 0 else EMPTY_TREE


async def project_diff(sandbox: Sandbox, cwd: str, base: str | None) -> bytes:
    """The task's changes: `git diff <base>` (commits and working tree) plus
    new untracked files."""
    if base is None:
        return b""
    code, diff = await git_output(sandbox, cwd, "diff", "--no-color", base)
    if code != 0:
        return b""
    code, untracked = await git_output(sandbox, cwd, "ls-files", "--others", "--exclude-standard", "-z")
    if code == 0:
        for name in [n for n in untracked.decode().split("\0") if n][:200]:
            _, added = await git_output(sandbox, cwd, "diff", "--no-color", "--no-index", "--", "/dev/null", name)
            diff += added
    return diff


async def task_artifacts(sandbox: Sandbox, task: TaskRecord, now: str) -> list[ArtifactRecord]:
    """What a finished task keeps: `plan.json` when it made a plan,
    `diff.patch` when it changed the project."""
    artifacts = []
    if task.plan:
        content = json.dumps({"steps": task.plan}, indent=2).encode()
        artifacts.append(ArtifactRecord(str(uuid.uuid4()), task.task_id, "plan.json", "plan", "application/json", len(content), now, content))
    diff = await project_diff(sandbox, task.working_directory, task.base_commit)
    if diff:
        artifacts.append(ArtifactRecord(str(uuid.uuid4()), task.task_id, "diff.patch", "diff", "text/x-diff", len(diff), now, diff))
    return artifacts


async def fresh_workspace(directories: ProjectDirectories, sandbox: Sandbox) -> str:
    """A new, empty git repository under the data dir, for work that names
    no project: agents need somewhere to work, and the changes come back as
    diff.patch. Absolute, as tasks require, also with a relative data dir
    (the default `./data`)."""
    workspace = directories.new_workspace_path()
    workspace.mkdir(parents=True)
    await git_output(sandbox, str(workspace), "init", "-q")
    return str(workspace)
