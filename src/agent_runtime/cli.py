"""The `agent-runtime` command: `serve` (settings from the environment,
flags win) and `tiny-model`."""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import sys
from typing import Any, Coroutine

from agent_runtime import __version__
from agent_runtime.config import Settings
from agent_runtime.lifecycle import StartupError
from agent_runtime.logs import configure_logging
from agent_runtime.settings_checks import check_settings, refuse_workers


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-runtime", description="Runs AI coding agents for other programs (gRPC + REST/SSE/WebSocket via Envoy)."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser(
        "serve",
        help="run the gRPC server, the WebSocket bridge and Envoy",
        description="Run the gRPC server, the WebSocket bridge and Envoy until SIGTERM/SIGINT. "
        "Environment variables (README, Configuration) give the defaults; flags win.",
    )
    serve_parser.add_argument("--grpc-port", type=_port, help="gRPC port (default 50051, env GRPC_PORT)")
    serve_parser.add_argument("--http-port", type=_port, help="REST/WebSocket port served by Envoy (default 8000, env HTTP_PORT)")
    serve_parser.add_argument(
        "--compat-ports",
        type=lambda text: tuple(_port(p) for p in text.split(",") if p),
        help="extra comma-separated Envoy ports with the same routes, e.g. 8001,8765",
    )
    serve_parser.add_argument("--data-dir", type=pathlib.Path, help="where the database lives (default ./data, env AGENT_RUNTIME_DATA_DIR)")
    serve_parser.add_argument(
        "--allow-anonymous-local",
        action="store_true",
        default=None,
        help="let local clients in without credentials (env ALLOW_ANONYMOUS_LOCAL)",
    )
    serve_parser.add_argument("--no-envoy", action="store_true", help="serve gRPC only: no Envoy, no REST, no WebSocket")
    serve_parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run N server processes behind the one Envoy (default 1). N > 1 needs DATABASE_URL set to "
        "PostgreSQL, which the workers share; worker i serves gRPC on GRPC_PORT+i; a worker that dies is "
        "restarted; SIGTERM drains every worker, then stops Envoy. Several machines: run serve on each against "
        "one PostgreSQL (README, Scaling out)",
    )
    tiny_parser = commands.add_parser(
        "tiny-model",
        help="write a tiny random MLX model to fine-tune (nothing is downloaded)",
        description="Write a tiny llama-style MLX model directory (config.json, model.safetensors, tokenizer.json) "
        "with a tokenizer trained on the corpus. It knows nothing until fine-tuned: a model to try the fine-tuning "
        "and inference paths with. Put it under <data dir>/models/NAME to have it registered as NAME at start.",
    )
    tiny_parser.add_argument("directory", type=pathlib.Path, help="where to write the model, e.g. data/models/tiny")
    tiny_parser.add_argument(
        "--corpus", type=pathlib.Path, help="text file the tokenizer is trained on, one sample a line (default: a few built-in lines)"
    )
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """The environment's settings with the flags given on top."""
    settings = Settings.from_env()
    flags = {
        "grpc_port": args.grpc_port,
        "http_port": args.http_port,
        "compat_ports": args.compat_ports,
        "run_envoy": False if args.no_envoy else None,
    }
    settings = settings.replace(server={name: value for name, value in flags.items() if value is not None})
    if args.data_dir is not None:
        settings = settings.replace(data_dir=args.data_dir)
    if args.allow_anonymous_local is not None:
        settings = settings.replace(auth={"allow_anonymous_local": args.allow_anonymous_local})
    return settings


def _tiny_model(directory: pathlib.Path, corpus_path: pathlib.Path | None) -> None:
    from agent_runtime.ml.tinymodel import DEFAULT_CORPUS, build_tiny_llama

    if directory.exists() and any(directory.iterdir()):
        raise ValueError(f"{directory} is not empty: choose a new directory for the model")
    corpus = corpus_path.read_text().splitlines() if corpus_path else DEFAULT_CORPUS
    build_tiny_llama(directory, [line for line in corpus if line.strip()])
    print(f"wrote a tiny MLX model to {directory}")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "tiny-model":
        try:
            _tiny_model(args.directory, args.corpus)
        except (OSError, ValueError) as error:
            print(f"agent-runtime: error: {error}", file=sys.stderr)
            sys.exit(2)
        return
    try:
        settings = settings_from(args)
        check_settings(settings)
        refusal = refuse_workers(settings, args.workers)
        if refusal:
            raise ValueError(refusal)
    except ValueError as error:
        print(f"agent-runtime: error: {error}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings.log_level)
    # Imported once the settings are known to serve: `--help` and a refused
    # setting answer without loading the server (a second of imports).
    if args.workers == 1:
        from agent_runtime.server import serve

        run_server(serve(settings))
    else:
        from agent_runtime.worker_pool import serve_workers

        run_server(serve_workers(settings, args.workers))


def run_server(server: Coroutine[Any, Any, None], about: str = "") -> None:
    """Runs `server` until it stops; a start that failed exits 1 with one
    line (`about` says whose, e.g. a worker's)."""
    try:
        asyncio.run(server)
    except StartupError as error:
        print(f"agent-runtime: error: {about}{error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
