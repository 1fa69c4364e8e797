"""Running a command in the project directory, contained by the sandbox
(tools/containment.py): its own process group and PID namespace (so
everything it started dies with it), a timeout, an output cap, a scrubbed
environment (no server secrets), and a kill of the whole group when the run
is stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import signal

from agent_runtime.tools.containment import Sandbox

# Environment variables a command inherits; nothing else (API keys stay out).
PASSED_ENV = ("PATH", "LANG", "LC_ALL", "TZ")


@contextlib.contextmanager
def _no_op():
    yield


def command_env(cwd: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(
        {
            "HOME": cwd,
            "TERM": "dumb",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "agent-runtime",
            "GIT_AUTHOR_EMAIL": "agent-runtime@localhost",
            "GIT_COMMITTER_NAME": "agent-runtime",
            "GIT_COMMITTER_EMAIL": "agent-runtime@localhost",
            "GIT_CONFIG_NOSYSTEM": "1",
            "PAGER": "cat",
        }
    )
    return env


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def kill_leftovers(track_dir: pathlib.Path) -> list[int]:
    """Kills the process groups of commands that were running when the
    server died (kill -9 leaves them orphaned); returns the group ids."""
    killed = []
    if not track_dir.is_dir():
        return killed
    for entry in track_dir.iterdir():
        try:
            pgid = int(entry.name)
            recorded = entry.read_text().strip()
        except (ValueError, OSError):
            entry.unlink(missing_ok=True)
            continue
        # Only the same process (pid and start time), never a reused pid.
        if recorded and _start_time(pgid) == recorded:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
                killed.append(pgid)
        entry.unlink(missing_ok=True)
    return killed


def kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGKILLs the command's process group, again while members remain (a
    process that was forking during the first kill may leave a child)."""
    for _ in range(50):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        if not _group_has_live_members(process.pid):
            return


def _group_has_live_members(pgid: int) -> bool:
    """Whether a non-zombie process is still in the group (from /proc)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return False
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


async def run_command(
    argv: list[str],
    cwd: str,
    *,
    timeout: float,
    output_limit: int,
    sandbox: Sandbox,
    network: bool = False,
    stdin: bytes | None = None,
    track_dir: pathlib.Path | None = None,
) -> tuple[int | None, str, bool]:
    """(exit code or None on timeout, output (stdout+stderr, capped),
    timed_out). The command runs in `sandbox` (ToolError when none is
    available). Cancelling the caller kills the process group. With
    track_dir, the group is recorded there while it runs, so a restarted
    server can kill what a crashed one left behind."""
    cgroup = sandbox.new_cgroup()
    try:
        process = await asyncio.create_subprocess_exec(
            *sandbox.wrap(argv, cwd, network=network, cgroup=cgroup),
            cwd=cwd,
            env=command_env(cwd),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except BaseException:
        sandbox.drop_cgroup(cgroup)
        raise
    track_file = None
    if track_dir is not None:
        track_dir.mkdir(parents=True, exist_ok=True)
        track_file = track_dir / str(process.pid)
        track_file.write_text(_start_time(process.pid) or "")
    chunks: list[bytes] = []
    kept = 0
    dropped = 0

    async def pump() -> None:
        nonlocal kept, dropped
        assert process.stdout is not None
        if stdin is not None and process.stdin is not None:
            process.stdin.write(stdin)
            with contextlib.suppress(ConnectionError):
                await process.stdin.drain()
            process.stdin.close()
        while True:
            block = await process.stdout.read(65536)
            if not block:
                break
            room = output_limit - kept
            if room > 0:
                chunks.append(block[:room])
                kept += min(room, len(block))
            dropped += max(0, len(block) - max(room, 0))
        await process.wait()

    timed_out = False
    try:
        await asyncio.wait_for(pump(), timeout)
    except asyncio.TimeoutError:
        timed_out = True
    finally:
        # Children that outlive the shell (background jobs) die with it.
        kill_group(process)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with contextlib.suppress(Exception):
                await asyncio.shield(process.wait())
        if track_file is not None:
            track_file.unlink(missing_ok=True)
        if cgroup is not None:
            # In the background: the namespace's last processes may take a
            # few milliseconds to leave it, and nothing waits on the removal.
            asyncio.get_running_loop().run_in_executor(None, sandbox.drop_cgroup, cgroup)
    output = b"".join(chunks).decode("utf-8", errors="replace")
    if dropped:
        output += f"\n… [output truncated: {dropped} more bytes]"
    return (None if timed_out else process.returncode), output, timed_out
