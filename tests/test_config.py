"""The settings: each variable is read once, next to its default, by one
loader that parses by type; the README's Configuration table names exactly
the variables the loader reads; flags win over the environment."""

from __future__ import annotations

import dataclasses
import pathlib
import re
import typing
from typing import Iterator

import pytest

from agent_runtime.cli import build_parser, settings_from
from agent_runtime.config import AgentsConfig, Settings
from agent_runtime.config.loader import env_names

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def documented_variables() -> list[str]:
    """The variables in the first column of README's Configuration table."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return [name for row in rows for name in re.findall(r"`([A-Z0-9_]+)`", row)]


def test_every_documented_variable_is_read_and_every_read_variable_documented():
    read = list(env_names(Settings))
    assert len(read) == len(set(read)), "a variable is read by two settings"
    assert sorted(documented_variables()) == sorted(read)


def test_every_read_variable_changes_its_setting():
    """A set variable reaches the settings (a variable named but not read
    would keep its default)."""
    for name in env_names(Settings):
        assert Settings.from_env({}) != settings_with(name), name


def _defaults(kind: type) -> Iterator[tuple[str, object]]:
    """Each variable `kind` and its sections read, with its field's default."""
    hints = typing.get_type_hints(kind)
    for field in dataclasses.fields(kind):
        if dataclasses.is_dataclass(hints[field.name]):
            yield from _defaults(hints[field.name])
        elif "env" in field.metadata:
            yield field.metadata["env"], field.default


def settings_with(name: str) -> Settings:
    # A value of the right type for every setting that differs from its
    # default: a switch is turned the other way, text and numbers below.
    values = {env: ("false" if default else "true") for env, default in _defaults(Settings) if isinstance(default, bool)}
    values.update({
        "LOG_LEVEL": "error", "DATABASE_URL": "sqlite:///elsewhere.db", "SANDBOX": "none",
        "SANDBOX_NETWORK": "all", "SANDBOX_BWRAP": "/opt/bwrap",
        "AGENT_RUNTIME__DEFAULT_AGENT": "ask", "OPENAI_API_VERSION": "2025-01-01", "GRPC_HOST": "0.0.0.0",
        "HTTP_HOST": "0.0.0.0", "AGENT_RUNTIME_DATA_DIR": "/srv/data", "CORS_ORIGINS": "https://app.example.com",
        "HITL_DANGEROUS_TOOLS": "write_file", "PROJECT_ROOTS": "/srv/projects", "SANDBOX_NETWORK_SESSIONS": "s-1",
        "DEFAULT_WORKSPACE": "/srv/work",
    })
    for text_setting in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "OLLAMA_BASE_URL",
                         "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "DEFAULT_MODEL", "AGENT_API_KEY", "INTERNAL_AUTH_TOKEN",
                         "JWT_SECRET"):
        values[text_setting] = "x" * 40
    return Settings.from_env({name: values.get(name, "7")})


def test_types_are_parsed_with_one_line_errors():
    settings = Settings.from_env(
        {"GRPC_PORT": " 6000 ", "HEALTH_CACHE_SECONDS": "2.5", "ALLOW_REGISTRATION": "off", "CORS_ORIGINS": " a, b ,",
         "MAX_CONCURRENT_RUNS_PER_USER": "2", "AGENT_API_KEY": ""}
    )
    assert settings.server.grpc_port == 6000 and settings.health.cache_seconds == 2.5
    assert settings.auth.allow_registration is False and settings.server.cors_origins == ("a", "b")
    assert settings.agents.max_concurrent_runs_per_user == 2
    # Set but empty: the default for a value, "none" for a list.
    assert settings.auth.api_key is None
    assert Settings.from_env({"CORS_ORIGINS": ""}).server.cors_origins == ()
    for name, value, message in (
        ("GRPC_PORT", "fifty", "GRPC_PORT must be an integer, got 'fifty'"),
        ("HEALTH_CACHE_SECONDS", "soon", "HEALTH_CACHE_SECONDS must be a number, got 'soon'"),
        ("ALLOW_REGISTRATION", "maybe", "ALLOW_REGISTRATION must be true or false, got 'maybe'"),
    ):
        with pytest.raises(ValueError, match=f"^{message}$"):
            Settings.from_env({name: value})


def test_debug_logging_and_hitl_enabled_override_their_lists():
    assert Settings.from_env({"DEBUG_LOGGING": "true", "LOG_LEVEL": "error"}).log_level == "DEBUG"
    assert Settings.from_env({"LOG_LEVEL": "error"}).log_level == "ERROR"
    assert AgentsConfig(hitl_enabled=False, hitl_dangerous_tools=("write_file",)).hitl_dangerous_tools == ()


def test_replace_changes_only_the_named_fields_of_a_section():
    settings = Settings().replace(data_dir=pathlib.Path("/srv"), server={"grpc_port": 0}, agents=AgentsConfig(max_iterations=3))
    assert settings.server.grpc_port == 0 and settings.server.http_port == Settings().server.http_port
    assert settings.data_dir == pathlib.Path("/srv") and settings.agents.max_iterations == 3


def test_flags_win_over_the_environment(monkeypatch):
    for name, value in {"GRPC_PORT": "6000", "HTTP_PORT": "6001", "AGENT_RUNTIME_DATA_DIR": "/srv/env", "ALLOW_ANONYMOUS_LOCAL": "false",
                        "MAX_ITERATIONS": "9"}.items():
        monkeypatch.setenv(name, value)
    from_env = settings_from(build_parser().parse_args(["serve"]))
    assert (from_env.server.grpc_port, from_env.server.http_port, from_env.data_dir) == (6000, 6001, pathlib.Path("/srv/env"))
    flagged = settings_from(
        build_parser().parse_args(
            ["serve", "--grpc-port", "7000", "--http-port", "7001", "--data-dir", "/srv/flag", "--allow-anonymous-local",
             "--no-envoy", "--compat-ports", "8001,8765"]
        )
    )
    assert (flagged.server.grpc_port, flagged.server.http_port, flagged.data_dir) == (7000, 7001, pathlib.Path("/srv/flag"))
    assert flagged.auth.allow_anonymous_local and not flagged.server.run_envoy and flagged.server.compat_ports == (8001, 8765)
    # What no flag sets still comes from the environment.
    assert flagged.agents.max_iterations == 9


def test_llm_variables_fill_the_llm_section_and_its_checks_run_with_the_rest():
    settings = Settings.from_env(
        {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "LLM_TIMEOUT_SECONDS": "30", "LLM_MAX_RETRIES": "1",
         "LLM_TOTAL_TIMEOUT_SECONDS": "90", "DEFAULT_MODEL": "gpt-4o"}
    )
    assert (settings.llm.openai_base_url, settings.llm.default_model) == ("http://127.0.0.1:9/v1", "gpt-4o")
    assert (settings.llm.timeout_seconds, settings.llm.max_retries, settings.llm.total_timeout_seconds) == (30, 1, 90)
    settings.check()
    for changes, message in (
        ({"timeout_seconds": 0}, "LLM_TIMEOUT_SECONDS must be positive"),
        ({"max_retries": -1}, "LLM_MAX_RETRIES must not be negative"),
        ({"total_timeout_seconds": 10}, "LLM_TOTAL_TIMEOUT_SECONDS must be at least LLM_TIMEOUT_SECONDS"),
    ):
        with pytest.raises(ValueError, match=message):
            settings.replace(llm=changes).check()


def test_password_hash_costs_below_the_least_allowed_are_refused():
    for changes, message in (
        ({"password_hash_memory_kib": 32}, "PASSWORD_HASH_MEMORY_KIB must be at least 64"),
        ({"password_hash_passes": 0}, "PASSWORD_HASH_PASSES must be at least 1"),
    ):
        with pytest.raises(ValueError, match=message):
            Settings().replace(auth=changes).check()
