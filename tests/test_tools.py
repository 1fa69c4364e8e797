"""Tools against real temp projects, and the sandbox escape corpus: zero
escapes, zero hangs."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest

from agent_runtime.tools.base import ToolContext
from agent_runtime.config import SandboxSettings
from agent_runtime.tools.containment import Sandbox
from agent_runtime.tools.registry import run_tool
from agent_runtime.tools.sandbox import Workspace
from process_helpers import host_processes, unique_sleep


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox.detect(SandboxSettings())


@pytest.fixture
def context(project, sandbox):
    return ToolContext(Workspace(project), command_timeout=5, output_limit=4000, max_file_bytes=100_000, sandbox=sandbox)


async def call(context, name, **arguments):
    return await run_tool(name, arguments, context)


async def test_read_write_list_search_delete(context, project):
    read = await call(context, "read_file", path="README.md")
    assert read.success and "hello world" in read.output
    part = await call(context, "read_file", path="src/app.py", start_line=2, max_lines=1)
    assert part.output == "    return a + b\n"
    wrote = await call(context, "write_file", path="docs/new/notes.md", content="notes\n")
    assert wrote.success and (project / "docs/new/notes.md").read_text() == "notes\n"
    listed = await call(context, "list_files")
    assert "docs/new/notes.md" in listed.output.splitlines() and ".git" not in listed.output
    found = await call(context, "search_in_code", query=r"return a \+ b")
    assert found.output == "src/app.py:2:     return a + b"
    plain = await call(context, "search_in_code", query="a + b", regex=False, file_pattern="*.py")
    assert "src/app.py:2" in plain.output
    deleted = await call(context, "delete_file", path="docs/new/notes.md")
    assert deleted.success and not (project / "docs/new/notes.md").exists()


async def test_git_diff_and_commit(context, project):
    assert (await call(context, "git_diff")).output == "no changes"
    await call(context, "write_file", path="src/app.py", content="def add(a, b):\n    return b + a\n")
    diff = await call(context, "git_diff")
    assert "-    return a + b" in diff.output and "+    return b + a" in diff.output
    committed = await call(context, "git_commit", message="Swap operands")
    assert committed.success and "Swap operands" in committed.output
    log = subprocess.run(["git", "log", "--format=%an %s", "-1"], cwd=project, capture_output=True, text=True).stdout
    assert log.strip() == "agent-runtime Swap operands"
    nothing = await call(context, "git_commit", message="again")
    assert not nothing.success and "git commit failed" in nothing.output


async def test_execute_command_exit_code_and_env_scrubbed(context, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    result = await call(context, "execute_command", command="echo out; echo err >&2; echo key=$OPENAI_API_KEY; exit 3")
    assert not result.success and result.output.startswith("exit code 3")
    assert "out" in result.output and "err" in result.output and "sk-secret" not in result.output
    ok = await call(context, "execute_command", command="pwd")
    assert ok.success and ok.output.strip().endswith(str(context.workspace.root))


async def test_update_plan_saves_through_callback(context):
    saved = []

    async def save(plan):
        saved.append(plan)

    context.save_plan = save
    result = await call(context, "update_plan", steps=[{"description": "read"}, {"id": "x", "description": "fix", "status": "in_progress"}])
    assert result.success and saved == [[
        {"id": "step-1", "description": "read", "status": "pending"},
        {"id": "x", "description": "fix", "status": "in_progress"},
    ]]
    bad = await call(context, "update_plan", steps=[{"description": "d", "status": "done"}])
    assert not bad.success and "status must be one of" in bad.output


async def test_bad_arguments_and_unknown_tools_are_tool_errors(context):
    for name, arguments, expected in [
        ("read_file", {}, "argument 'path' is required"),
        ("read_file", {"path": 7}, "argument 'path' is required"),
        ("read_file", {"path": "missing.txt"}, "does not exist"),
        ("read_file", {"path": "src"}, "is not a file"),
        ("write_file", {"path": "x"}, "argument 'content' is required"),
        ("delete_file", {"path": "src"}, "is a directory"),
        ("search_in_code", {"query": "("}, "bad regular expression"),
        ("launch_rockets", {}, "unknown tool"),
    ]:
        result = await run_tool(name, arguments, context)
        assert not result.success and expected in result.output, (name, result.output)
    limited = await run_tool("write_file", {"path": "a", "content": "b"}, context, allowed=["read_file"])
    assert not limited.success and "unknown tool" in limited.output


ESCAPES = [
    "../outside.txt",
    "../../etc/passwd",
    "src/../../outside.txt",
    "/etc/passwd",
    "~/outside.txt",
    "~root/.bashrc",
    "README.md\x00.txt",
    "link_out/outside.txt",
    "file_link",
    "a" * 5000,
]


async def test_sandbox_escape_corpus(context, project, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (project / "link_out").symlink_to(tmp_path)
    (project / "file_link").symlink_to(outside)
    for path in ESCAPES:
        for name, arguments in [
            ("read_file", {"path": path}),
            ("write_file", {"path": path, "content": "pwned"}),
            ("delete_file", {"path": path}),
            ("list_files", {"path": path}),
            ("search_in_code", {"query": "secret", "path": path}),
            ("git_diff", {"path": path}),
            ("git_commit", {"message": "m", "paths": [path]}),
        ]:
            result = await run_tool(name, arguments, context)
            assert not result.success, (name, path, result.output)
            assert "secret" not in result.output, (name, path)
    assert outside.read_text() == "secret"
    # Searching the project never follows the link out either.
    found = await call(context, "search_in_code", query="secret")
    assert found.output == "no matches"
    # Writes into .git (hooks would run code) are refused.
    hook = await call(context, "write_file", path=".git/hooks/pre-commit", content="#!/bin/sh\n")
    assert not hook.success and ".git" in hook.output


async def test_absolute_path_inside_project_is_allowed(context, project):
    result = await call(context, "read_file", path=str(project / "README.md"))
    assert result.success


async def test_huge_output_is_capped(context):
    result = await call(context, "execute_command", command="head -c 5000000 /dev/zero | tr '\\0' 'x'")
    assert result.success and len(result.output) < 4200 and "output truncated" in result.output
    (context.workspace.root / "big.txt").write_text("y" * 50_000)
    read = await call(context, "read_file", path="big.txt")
    assert len(read.output) < 4200 and "truncated" in read.output


async def gone(marker: str) -> bool:
    """Whether the processes with `marker` are gone (bounded wait: the test
    is about the kill, not its speed)."""
    for _ in range(200):
        if not host_processes(marker):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_timeout_kills_the_whole_process_group(context, project):
    # A bounded "fork bomb": many background children plus a hanging shell.
    context.command_timeout = 1
    marker = unique_sleep()
    started = time.monotonic()
    result = await call(context, "execute_command", command=f"for i in $(seq 40); do sleep {marker} & echo $! >> pids.txt; done; sleep {marker}")
    # Ended at the timeout, far from the sleeps' 300 s (a loaded machine
    # takes seconds to start the 40).
    assert time.monotonic() - started < 30
    assert not result.success and "timed out" in result.output
    assert len((project / "pids.txt").read_text().split()) == 40
    assert await gone(marker)


async def test_cancel_kills_running_command(context, project):
    marker = unique_sleep()
    task = asyncio.create_task(call(context, "execute_command", command=f"sleep {marker} & echo started > started.txt; wait"))
    for _ in range(500):
        if (project / "started.txt").exists() and host_processes(marker):
            break
        await asyncio.sleep(0.02)
    assert host_processes(marker)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(marker)


async def test_orphaned_grandchildren_die_with_the_group(context, project):
    # Double forks leave sleeps reparented away from the shell; they are still
    # in the command's PID namespace and die with it.
    context.command_timeout = 1
    marker = unique_sleep()
    result = await call(
        context, "execute_command", command=f"for i in $(seq 100); do (sleep {marker} & echo $! >> pids.txt); done; sleep {marker}"
    )
    assert "timed out" in result.output
    assert len((project / "pids.txt").read_text().split()) == 100
    assert await gone(marker)
