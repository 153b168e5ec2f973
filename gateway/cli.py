"""The `gateway` command: serve, check a configuration, manage keys, policies, usage, audit and
batches, run the vLLM simulator."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from gateway.audit.cli import add_audit_commands, run_audit_command
from gateway.authz.cli import add_policy_commands, run_policy_command
from gateway.batches.cli import add_batch_commands
from gateway.config_file import CONFIG_ENV, ConfigError, config_path
from gateway.identity.cli import add_key_commands
from gateway.metering.cli import add_usage_commands

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway", description="OpenAI-compatible gateway for vLLM backends."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", help=f"configuration file (default: ${CONFIG_ENV})")
    serve.add_argument("--host", help="interface to bind (overrides server.host)")
    serve.add_argument("--port", type=int, help="port to bind (overrides server.port)")
    serve.add_argument("--workers", type=int, help="worker processes (overrides server.workers)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_commands.add_parser("check", help="validate a configuration file")
    check.add_argument("file")

    add_key_commands(commands)
    add_policy_commands(commands)
    add_usage_commands(commands)
    add_audit_commands(commands)
    add_batch_commands(commands)
    commands.add_parser("sim", help="run the vLLM simulator (see backends/README.md)", add_help=False)
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.authz import Authorizer, PolicyError
    from gateway.config import load_config
    from gateway.identity import IdentityError, admin_key_for, pepper_for
    from gateway.serving import uvicorn_settings
    from gateway.telemetry import multiprocess_metrics

    try:
        path = config_path(args.config)
        config = load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    host = args.host or config.server.host
    port = args.port or config.server.port
    workers = args.workers or config.server.workers
    if workers > 1 and config.store.kind == "embedded":
        print(
            f"gateway: {workers} workers need a shared store: set store.kind: redis in {path} "
            "(the embedded store belongs to one process)",
            file=sys.stderr,
        )
        return 2
    problem = config.audit.workers_problem(workers)
    if problem is not None:
        print(f"gateway: {problem}", file=sys.stderr)
        return 2
    try:
        # Fail here, with a readable message, rather than in every worker's start-up.
        Authorizer.from_config(config.policy, path.parent)
        pepper_for(config.store, config.auth)
        admin_key_for(config.auth)
    except (PolicyError, IdentityError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request at INFO: noise, a cost on the hot path, and URLs that are not its to log.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
    # Each worker process builds its own app from the file named here.
    os.environ[CONFIG_ENV] = str(path)
    # Several workers share their metrics through a directory made (and emptied) before they start.
    with multiprocess_metrics(config.metrics, workers):
        uvicorn.run(
            "gateway.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            access_log=False,
            log_level=args.log_level,
            server_header=False,
            timeout_graceful_shutdown=config.server.shutdown_timeout_seconds,
            **uvicorn_settings(config.server),
        )
    return 0


def _check(args: argparse.Namespace) -> int:
    from gateway.config import load_config

    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    backends = sum(len(model.backends) for model in config.models)
    print(f"{args.file}: OK ({len(config.models)} model(s), {backends} backend entries)")
    return 0


def _keys(args: argparse.Namespace) -> int:
    from gateway.config import load_config
    from gateway.identity.cli import run_keys

    try:
        config = load_config(config_path(args.config))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return run_keys(args, config.store, config.auth)


def _usage(args: argparse.Namespace) -> int:
    from gateway.config import load_config
    from gateway.metering.cli import run_usage

    try:
        config = load_config(config_path(args.config))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return run_usage(args, config.store, config.metering, config.audit)


def _batches(args: argparse.Namespace) -> int:
    from gateway.batches.cli import run_batches
    from gateway.config import load_config

    try:
        config = load_config(config_path(args.config))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return run_batches(args, config.store, config.batches)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["sim"]:
        from backends.simulator import main as simulator_main

        return simulator_main(arguments[1:])
    args = _parser().parse_args(arguments)
    if args.command == "serve":
        return _serve(args)
    if args.command == "config":
        return _check(args)
    if args.command == "keys":
        return _keys(args)
    if args.command == "policy":
        return run_policy_command(args)
    if args.command == "audit":
        return run_audit_command(args)  # reads no configuration
    if args.command == "usage":
        return _usage(args)
    if args.command == "batches":
        return _batches(args)
    raise AssertionError(f"unhandled command {args.command}")
