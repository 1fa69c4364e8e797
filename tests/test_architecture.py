"""The layers of ARCHITECTURE.md, read from the source: imports point one way
(servicer → domain → port ← adapter), settings import no domain, and no
module grows past 450 lines."""

from __future__ import annotations

import ast
import pathlib

SOURCE = pathlib.Path(__file__).resolve().parent.parent / "src" / "agent_runtime"
DOMAINS = ("sessions", "agents", "tools", "llm", "ml", "compute", "identity", "events")
# Modules outside the domains that storage adapters may use.
STORAGE_MAY_IMPORT = ("agent_runtime.storage", "agent_runtime.clock", "agent_runtime.errors", "agent_runtime.jsonfmt")
# What a domain's port is made of: the protocols and the records they carry.
PORT_MODULES = ("ports", "models", "records")
COMPOSITION = ("agent_runtime.server", "agent_runtime.grpc_server", "agent_runtime.cli")
MAX_LINES = 450


def _modules() -> dict[str, pathlib.Path]:
    return {".".join(path.relative_to(SOURCE.parent).with_suffix("").parts): path for path in SOURCE.rglob("*.py")}


def _imports(path: pathlib.Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("agent_runtime"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("agent_runtime"))
    return found


MODULES = _modules()


def _package(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def _is_port(module: str) -> bool:
    parts = module.split(".")
    return len(parts) == 3 and parts[1] in DOMAINS and parts[2] in PORT_MODULES


def _violations(rule) -> list[str]:
    return sorted(f"{module} imports {target}" for module, path in MODULES.items() for target in _imports(path) if rule(module, target))


def test_storage_adapters_import_only_the_ports_they_serve():
    def breaks(module, target):
        return _package(module) == "storage" and not (target.startswith(STORAGE_MAY_IMPORT) or _is_port(target))

    assert _violations(breaks) == []


def test_settings_import_no_domain():
    def breaks(module, target):
        return _package(module) == "config" and _package(target) != "config"

    assert _violations(breaks) == []


def test_domains_import_neither_adapters_nor_the_gateway_nor_the_composition_root():
    def breaks(module, target):
        return _package(module) in DOMAINS and (
            _package(target) in ("storage", "gateway") or target.startswith(COMPOSITION)
        )

    assert _violations(breaks) == []


def test_only_the_composition_root_imports_servicers():
    def breaks(module, target):
        return target.endswith(".servicer") and not module.startswith(COMPOSITION)

    assert _violations(breaks) == []


def test_no_module_over_450_lines():
    sizes = {module: len(path.read_text().splitlines()) for module, path in MODULES.items()}
    assert {module: lines for module, lines in sizes.items() if lines > MAX_LINES} == {}
