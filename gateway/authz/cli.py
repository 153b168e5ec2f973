"""`gateway policy check`: what would the policy decide for this key, model and operation, and why.

    gateway policy check --department dgfip --service assistant-courrier --model mistral-small \\
        --operation chat [--role user ...] [--model-file F --policy-file F | --config gateway.yaml]

Prints ALLOW or DENY, then the rule that decided (with its line) or "no rule matched: denied by
default", then the subjects that were considered. Exit status: 0 allow, 1 deny, 2 the files cannot be
used or the command is wrong, so that a policy repository's CI can assert decisions with it.

The files are, in this order: `--model-file`/`--policy-file` (relative to the working directory); the
`policy` section of `--config` or of `$GATEWAY_CONFIG` (relative to that file's directory, as the
gateway reads them); otherwise `policies/model.conf` and `policies/policy.csv` in the working directory.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.authz.actions import ACTIONS, ANY_MODEL, MODEL_ACTIONS
from gateway.authz.errors import PolicyError
from gateway.authz.loading import load_policy
from gateway.authz.settings import PolicyConfig
from gateway.config_file import CONFIG_ENV, ConfigError, Sections, find_config, read_config

__all__ = ["add_policy_commands", "main", "run_policy_command"]


class _UsageError(Exception):
    pass


def add_policy_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `policy check` to a parser's subcommands (`gateway`'s, or the one `main` builds)."""
    policy = subparsers.add_parser("policy", help="authorization policy tools")
    actions = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="show what the policy decides for a key, a model and an operation",
        description="Exit status: 0 allowed, 1 denied, 2 error.",
    )
    check.add_argument("--department", required=True, help="the key's department (e.g. dgfip)")
    check.add_argument("--service", required=True, help="the key's service (e.g. assistant-courrier)")
    check.add_argument(
        "--role",
        action="append",
        default=[],
        dest="roles",
        metavar="ROLE",
        help="a role the key carries (repeatable)",
    )
    check.add_argument("--model", help=f"model name (omit for admin and usage:read, which use `{ANY_MODEL}`)")
    check.add_argument("--operation", required=True, choices=sorted(ACTIONS))
    check.add_argument("--model-file", help="Casbin model (default: policies/model.conf)")
    check.add_argument("--policy-file", help="policy rules (default: policies/policy.csv)")
    check.add_argument(
        "--config",
        help=f"gateway configuration whose `policy` section names the files (default: ${CONFIG_ENV})",
    )


class _PolicySection(Sections):
    """The one section this command reads: the rest of the file is the gateway's business."""

    policy: PolicyConfig = PolicyConfig()


def _policy_files(args: argparse.Namespace) -> tuple[Path, Path]:
    defaults = PolicyConfig()
    if args.model_file or args.policy_file:
        if args.config:
            raise _UsageError("give either --config or --model-file/--policy-file, not both")
        return Path(args.model_file or defaults.model_file), Path(args.policy_file or defaults.policy_file)
    config = find_config(args.config)
    if config is not None:
        return read_config(config, _PolicySection).policy.resolve(config.parent)
    return defaults.model_file, defaults.policy_file


def _check(args: argparse.Namespace) -> int:
    if args.model is None and args.operation in MODEL_ACTIONS:
        raise _UsageError(f"--model is required for {args.operation}")
    model = args.model if args.model is not None else ANY_MODEL
    model_file, policy_file = _policy_files(args)
    snapshot = load_policy(model_file, policy_file, cache_size=0)
    decision = snapshot.decide(args.department, args.service, tuple(args.roles), model, args.operation)
    print("ALLOW" if decision.allowed else "DENY")
    if decision.rule is None:
        print("no rule matched: denied by default")
    else:
        line = snapshot.line_of(decision.rule)
        print(f"matched rule: {', '.join(decision.rule)}  ({policy_file}, line {line})")
    held = snapshot.roles_held(args.service, args.department)
    print(
        f"subjects: service {args.service} (roles in {args.department}: {', '.join(held) or 'none'}); "
        f"key roles: {', '.join(args.roles) or 'none'}"
    )
    return 0 if decision.allowed else 1


def run_policy_command(args: argparse.Namespace) -> int:
    """Run the `policy` subcommand parsed by a parser that `add_policy_commands` extended."""
    try:
        if args.policy_command == "check":
            return _check(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (PolicyError, _UsageError) as exc:
        print(f"gateway policy {args.policy_command}: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled policy command {args.policy_command}")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m gateway.authz policy check ...`, the same command before it is part of `gateway`."""
    parser = argparse.ArgumentParser(prog="gateway", description="Authorization policy tools.")
    add_policy_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return run_policy_command(parser.parse_args(argv))
