"""The command sandbox (issue 13): the escape corpus against the sandbox
runner directly, fail-closed behaviour, the data dir's modes, and one
escape tried through a real run with the scripted model."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import resource
import stat

import grpc
import pytest
import structlog.testing

from agentruntime.v1 import compute_pb2, compute_pb2_grpc
from agent_runtime.config import AgentsConfig, SandboxSettings
from agent_runtime.identity.tokens import load_or_create_signing_key
from agent_runtime.server import private_data_dir, server_paths
from agent_runtime.storage.sqlite.database import Database
from agent_runtime.tools.base import ToolContext
from agent_runtime.tools.containment import Sandbox, seatbelt_profile
from agent_runtime.tools.registry import run_tool
from agent_runtime.tools.sandbox import Workspace
from agent_helpers import git_project, wait_for
from conftest import grpc_metadata, make_settings, running
from llm_fakes import Call, FakeOpenAI, Reply
from process_helpers import host_processes, unique_sleep

KEY = "jwt-key-that-must-not-leak-0123456789abcdef"


@pytest.fixture
def server_dir(tmp_path):
    """A data dir as the server lays it out: the key, a database, and two
    sessions' workspaces; the command runs in the first."""
    data = tmp_path / "data"
    (data / "workspaces" / "mine").mkdir(parents=True)
    (data / "workspaces" / "theirs").mkdir()
    (data / "workspaces" / "theirs" / "notes.txt").write_text("their secret notes")
    (data / "jwt-signing-key").write_text(KEY)
    (data / "agent-runtime.sqlite3").write_text("database")
    return data


def contained(server_dir, **settings) -> ToolContext:
    sandbox = Sandbox.detect(SandboxSettings(**settings), [server_dir])
    assert sandbox.state == "bubblewrap", sandbox.problem
    workspace = Workspace(server_dir / "workspaces" / "mine")
    return ToolContext(
        workspace, 10, 4000, 100_000, sandbox=sandbox, network=sandbox.settings.allows_network(None)
    )


async def command(context: ToolContext, text: str, **arguments):
    return await run_tool("execute_command", {"command": text, **arguments}, context)


async def test_the_data_dir_and_key_are_not_visible(server_dir):
    context = contained(server_dir)
    result = await command(
        context,
        f"cat ../../jwt-signing-key; cat {server_dir}/jwt-signing-key; ls -a {server_dir} ../theirs; "
        f"cat ../theirs/notes.txt; ls -a {server_dir}/workspaces",
    )
    assert KEY not in result.output and "their secret notes" not in result.output
    assert "agent-runtime.sqlite3" not in result.output and "theirs" not in result.output.split("No such file")[-1]
    # Only the own project is there, writable.
    own = await command(context, f"echo mine > work.txt && ls {server_dir}/workspaces")
    assert own.success and own.output.split("\n", 1)[1].split() == ["mine"]
    assert (server_dir / "workspaces" / "mine" / "work.txt").read_text() == "mine\n"


async def test_a_data_dir_inside_the_project_is_covered(tmp_path):
    """An administrator may point a session at the server's own directory:
    the data dir inside it stays invisible."""
    project = tmp_path / "server-checkout"
    (project / "data").mkdir(parents=True)
    (project / "data" / "jwt-signing-key").write_text(KEY)
    (project / "README.md").write_text("readme")
    sandbox = Sandbox.detect(SandboxSettings(), [project / "data"])
    context = ToolContext(Workspace(project), 10, 4000, 100_000, sandbox=sandbox)
    result = await command(context, "cat README.md; ls data; cat data/jwt-signing-key")
    assert "readme" in result.output and KEY not in result.output and "No such file" in result.output


async def test_configured_paths_are_covered(tmp_path):
    """PROJECT_ROOTS, DEFAULT_WORKSPACE and the database's own directory:
    a project under a root sees none of its neighbours."""
    root, workspace, database = tmp_path / "projects", tmp_path / "default-workspace", tmp_path / "db"
    for directory in (root / "mine", root / "theirs", workspace, database):
        directory.mkdir(parents=True)
        (directory / "secret.txt").write_text(f"secret of {directory.name}")
    agents = dataclasses.replace(AgentsConfig(), project_roots=(str(root),), default_workspace=str(workspace))
    settings = make_settings(tmp_path / "data", agents=agents, database_url=f"sqlite:///{database}/runtime.db")
    sandbox = Sandbox.detect(SandboxSettings(), server_paths(settings))
    context = ToolContext(Workspace(root / "mine"), 10, 4000, 100_000, sandbox=sandbox)
    result = await command(context, f"cat secret.txt {root}/theirs/secret.txt {workspace}/secret.txt {database}/secret.txt")
    assert "secret of mine" in result.output
    for other in ("theirs", "default-workspace", "db"):
        assert f"secret of {other}" not in result.output


async def test_server_processes_and_environment_are_invisible(server_dir, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-secret")
    monkeypatch.setenv("JWT_SECRET", "jwt-secret-from-the-environment")
    context = contained(server_dir)
    server = os.getpid()
    result = await command(
        context,
        f"env; cat /proc/$PPID/environ; cat /proc/{server}/environ; cat /proc/1/environ; "
        f"echo; test -e /proc/{server} && echo server-visible; ls /proc | grep -c '^[0-9]'",
    )
    assert "sk-server-secret" not in result.output and "jwt-secret-from-the-environment" not in result.output
    assert "server-visible" not in result.output
    # The sandbox's own init, the shell, ls and grep: nothing of the host.
    assert int(result.output.strip().splitlines()[-1]) <= 5


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/etc/shadow"), reason="needs a root server and /etc/shadow")
async def test_a_root_server_does_not_lend_root_only_files(server_dir):
    """Commands of a server running as root keep uid 0 (without
    capabilities): the system's root-only files are covered."""
    result = await command(contained(server_dir), "cat /etc/shadow; ls /etc/ssl/private; echo end")
    assert "root:" not in result.output and result.output.rstrip().endswith("end")


async def test_writes_outside_the_project_fail(server_dir, tmp_path):
    context = contained(server_dir)
    marker = f"leak-{os.getpid()}"
    result = await command(
        context,
        f"touch /etc/{marker}; touch {tmp_path}/{marker}; touch /usr/{marker}; echo x > /tmp/{marker}; touch $HOME/../{marker}",
    )
    # The system is read-only; /tmp and the covered data dir are the
    # sandbox's own throwaway tmpfs: nothing lands on the host.
    assert "Read-only file system" in result.output
    for place in ("/etc", str(tmp_path), "/usr", "/tmp", str(server_dir / "workspaces")):
        assert not os.path.exists(f"{place}/{marker}"), place


async def test_no_network_unless_allowed(server_dir):
    connections = []

    async def accept(reader, writer):
        connections.append(True)
        writer.close()

    listener = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    probe = f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('connected')\""
    async with listener:
        refused = await command(contained(server_dir), probe)
        assert not refused.success and "connected" not in refused.output.splitlines()
        assert connections == []
        # The same probe with the network allowed reaches the listener, so
        # the refusal above is the sandbox's.
        allowed = await command(contained(server_dir, network="all"), probe)
        assert allowed.success and "connected" in allowed.output
        assert await wait_for(lambda: _value(len(connections)), bool)


async def _value(value):
    return value


async def test_settings_allow_the_network_per_session():
    settings = SandboxSettings(network_sessions=("s-1",))
    assert settings.allows_network("s-1") and not settings.allows_network("s-2") and not settings.allows_network(None)
    assert SandboxSettings(network="all").allows_network(None)


async def gone(marker: str) -> bool:
    for _ in range(200):
        if not host_processes(marker):
            return True
        await asyncio.sleep(0.05)
    return False


def detached(marker: str) -> str:
    """Starts `sleep marker` in a session of its own and waits until it is
    (so that the command cannot end before the child left its group)."""
    return f"setsid sh -c 'touch detached; exec sleep {marker}' > /dev/null 2>&1 < /dev/null & while [ ! -e detached ]; do sleep 0.01; done"


async def test_setsid_children_die_when_the_command_ends(server_dir):
    context = contained(server_dir)
    marker = unique_sleep()
    result = await command(context, f"{detached(marker)}; echo started")
    assert result.success and "started" in result.output
    assert await gone(marker)


async def test_setsid_children_die_at_the_timeout(server_dir):
    context = contained(server_dir)
    marker = unique_sleep()
    result = await command(context, f"{detached(marker)}; sleep {marker}", timeout=1)
    assert not result.success and "timed out" in result.output
    assert await gone(marker)


async def test_setsid_children_die_when_the_run_is_stopped(server_dir):
    context = contained(server_dir)
    marker = unique_sleep()
    started = context.workspace.root / "started"
    running_command = asyncio.create_task(
        command(context, f"{detached(marker)}; echo yes > started; sleep {marker}")
    )
    assert await wait_for(lambda: _value(started.exists()), bool)
    running_command.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running_command
    assert await gone(marker)


async def test_a_fork_bomb_is_bounded(server_dir):
    context = contained(server_dir, max_processes=64)
    marker = unique_sleep()
    # Each round starts children that never end; the limit stops it.
    result = await command(context, f"for i in $(seq 500); do sleep {marker} & done; wait", timeout=5)
    assert not result.success and "SANDBOX_MAX_PROCESSES=64" in result.output, result.output
    assert await gone(marker)
    # A real one: its forks (all with the marker in their command line)
    # never pass the limit, and none outlives the timeout.
    marker = unique_sleep()
    most = 0
    bomb = asyncio.create_task(command(context, f": {marker}; bomb() {{ bomb | bomb & }}; bomb; sleep {marker}", timeout=3))
    while not bomb.done():
        most = max(most, len(host_processes(marker)))
        await asyncio.sleep(0.02)
    assert not bomb.result().success and 0 < most <= 64, most
    assert await gone(marker)


async def test_a_memory_hog_is_refused_memory(server_dir):
    context = contained(server_dir, memory_mb=256)
    result = await command(context, "python3 -c 'x = bytearray(2 * 1024 ** 3); print(len(x))'")
    assert not result.success and "SANDBOX_MEMORY_MB=256" in result.output, result.output


async def test_cpu_and_file_size_limits_end_the_command(server_dir):
    cpu = await command(contained(server_dir, cpu_seconds=1), "while :; do :; done")
    assert not cpu.success and "CPU time limit (SANDBOX_CPU_SECONDS=1)" in cpu.output, cpu.output
    size = await command(contained(server_dir, max_file_mb=1), "head -c 3000000 /dev/zero > big.bin")
    assert not size.success and "SANDBOX_MAX_FILE_MB=1" in size.output, size.output
    assert (server_dir / "workspaces" / "mine" / "big.bin").stat().st_size <= 1024 * 1024
    files = await command(
        contained(server_dir, max_open_files=32), "python3 -c 'h = [open(\"/dev/null\") for _ in range(100)]'"
    )
    assert not files.success and "SANDBOX_MAX_OPEN_FILES=32" in files.output, files.output


async def test_100_mb_of_output_is_capped_not_buffered(server_dir):
    context = contained(server_dir)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = await command(context, "head -c 100000000 /dev/zero | tr '\\0' x", timeout=60)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert result.success and len(result.output) < 4200
    assert "output truncated" in result.output
    assert grown_kb < 50 * 1024, f"the server grew by {grown_kb} KB"


async def test_without_bubblewrap_commands_are_refused(server_dir):
    for bwrap, reason in (("/nonexistent/bwrap", "was not found"), ("/bin/false", "cannot create its namespaces")):
        sandbox = Sandbox.detect(SandboxSettings(bwrap=bwrap), [server_dir])
        assert sandbox.state == "unavailable" and reason in sandbox.problem
        context = ToolContext(Workspace(server_dir / "workspaces" / "mine"), 5, 4000, 100_000, sandbox=sandbox)
        for name, arguments in (("execute_command", {"command": "echo ran > ran.txt"}), ("git_diff", {})):
            result = await run_tool(name, arguments, context)
            assert not result.success and "no sandbox is available" in result.output and "SANDBOX=none" in result.output
        assert not (server_dir / "workspaces" / "mine" / "ran.txt").exists()


def test_start_up_says_how_to_fix_a_missing_sandbox_and_warns_about_none():
    with structlog.testing.capture_logs() as logs:
        Sandbox.detect(SandboxSettings(bwrap="/nonexistent/bwrap")).announce()
        Sandbox.detect(SandboxSettings(mode="none")).announce()
    unavailable, disabled = logs
    assert unavailable["log_level"] == "warning" and "apt-get install -y bubblewrap" in unavailable["message"]
    assert "SANDBOX=none" in unavailable["message"]
    assert disabled["log_level"] == "warning" and "UNCONTAINED" in disabled["message"]


async def test_sandbox_none_runs_commands_uncontained(server_dir):
    sandbox = Sandbox.detect(SandboxSettings(mode="none"), [server_dir])
    assert sandbox.state == "none"
    context = ToolContext(Workspace(server_dir / "workspaces" / "mine"), 5, 4000, 100_000, sandbox=sandbox)
    result = await command(context, "cat ../../jwt-signing-key")
    assert result.success and KEY in result.output


def test_the_macos_profile_has_the_same_rules(tmp_path):
    project, data = str(tmp_path / "data" / "workspaces" / "p"), str(tmp_path / "data")
    profile = seatbelt_profile(project, [data], network=False)
    # The last matching rule wins: the project is allowed after the data
    # dir around it is denied.
    assert profile.index(f'(deny file-read* (subpath "{data}"))') < profile.index(f'(allow file-read* file-write* (subpath "{project}"))')
    assert "(deny default)" in profile and "network" not in profile
    assert "(allow network*)" in seatbelt_profile(project, [data], network=True)


def test_settings_are_read_and_validated(monkeypatch):
    monkeypatch.setenv("SANDBOX", "None")
    monkeypatch.setenv("SANDBOX_NETWORK_SESSIONS", "s-1, s-2")
    monkeypatch.setenv("SANDBOX_MAX_PROCESSES", "100")
    read = AgentsConfig.from_env().sandbox
    assert (read.mode, read.network_sessions, read.max_processes) == ("none", ("s-1", "s-2"), 100)
    monkeypatch.setenv("SANDBOX_NETWORK", "internet")
    with pytest.raises(ValueError, match="SANDBOX_NETWORK must be one of none, all, got 'internet'"):
        AgentsConfig.from_env().check()
    for bad, message in (
        (SandboxSettings(mode="docker"), "SANDBOX must be one of"),
        (SandboxSettings(network="some"), "SANDBOX_NETWORK must be one of"),
        (SandboxSettings(max_processes=1), "SANDBOX_MAX_PROCESSES must be at least"),
        (SandboxSettings(memory_mb=0), "SANDBOX_MEMORY_MB must be at least"),
    ):
        with pytest.raises(ValueError, match=message):
            bad.check()


async def test_data_dir_is_0700_and_database_and_key_0600(tmp_path):
    data = tmp_path / "data"
    private_data_dir(data)
    database = await Database.open(data / "agent-runtime.sqlite3")
    async with database.transaction() as connection:
        await connection.execute("CREATE TABLE t (x)")
    load_or_create_signing_key(data / "jwt-signing-key")
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("agent-runtime.sqlite3", "agent-runtime.sqlite3-wal", "agent-runtime.sqlite3-shm", "jwt-signing-key"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    await database.close()
    # Looser modes left by an older version are tightened at start.
    data.chmod(0o755)
    (data / "agent-runtime.sqlite3").chmod(0o644)
    private_data_dir(data)
    database = await Database.open(data / "agent-runtime.sqlite3")
    await database.close()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "agent-runtime.sqlite3").stat().st_mode) == 0o600


async def test_a_command_never_sees_the_database_url_and_its_password(server_dir, monkeypatch):
    """On PostgreSQL the signing key is in the database: its DSN must stay
    with the server (not in a command's environment, nor in /proc)."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://runtime:pg-password-never-shown@db.internal:5432/agent_runtime")
    result = await command(contained(server_dir), "env; cat /proc/$PPID/environ; cat /proc/1/environ; echo checked")
    assert result.success and "checked" in result.output
    assert "pg-password-never-shown" not in result.output and "db.internal" not in result.output


async def test_a_run_cannot_read_the_key_and_health_shows_the_sandbox(tmp_path, monkeypatch):
    """The issue's attack through a real run: a fresh workspace, the model
    asks for the key, the server's environment and its identity."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-secret")
    connections = []
    listener = await asyncio.start_server(lambda reader, writer: connections.append(writer.close()), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    escape = (
        "cat ../../jwt-signing-key; cat /proc/$PPID/environ; env; ls ..; id; "
        f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)\""
    )
    async with listener, FakeOpenAI([Reply(tool_calls=[Call("execute_command", {"command": escape})]), Reply(text="done")]) as fake:
        llm = {"openai_base_url": fake.base_url, "max_retries": 0}
        settings = make_settings(tmp_path / "data", llm=llm, agents={"hitl_dangerous_tools": ()}, server={"run_envoy": False})
        async with running(settings) as runtime:
            session = await runtime.agents.projects.create_project_session("x", "")
            task = await runtime.agents.tasks.create_task(session.session.session_id, "steal the key", owner="mallory")
            done = await wait_for(lambda: runtime.agents.tasks.get_task(task.task_id), lambda t: t.status in ("completed", "failed"))
            async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
                health = await compute_pb2_grpc.ComputeServiceStub(channel).GetHealth(compute_pb2.GetHealthRequest(), metadata=grpc_metadata())
        key = (tmp_path / "data" / "jwt-signing-key").read_text().strip()
        told = fake.requests[-1]["messages"][-1]
        assert done.status == "completed" and told["role"] == "tool"
        assert "No such file" in told["content"] and key not in told["content"]
        assert "sk-server-secret" not in told["content"]
        assert "Connection refused" in told["content"] and connections == []
        assert health.dependencies["sandbox"] == "bubblewrap"


async def test_git_of_a_hostile_project_runs_contained(server_dir, tmp_path):
    """A project's own git config runs programs (core.fsmonitor): the
    server's git calls for the diff artifact are contained too."""
    project = git_project(server_dir / "workspaces" / "mine" / "repo")
    with open(project / ".git" / "config", "a") as config:
        config.write(f"[core]\n\tfsmonitor = cat {server_dir}/jwt-signing-key > {tmp_path}/stolen; false\n")
    (project / "README.md").write_text("changed\n")
    context = contained(server_dir)
    context.workspace = Workspace(project)
    result = await run_tool("git_diff", {}, context)
    assert "changed" in result.output
    assert not (tmp_path / "stolen").exists()
