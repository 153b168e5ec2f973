"""`gateway keys create|list|revoke`: key management from an operator's shell.

`gateway/cli.py` adds these commands with `add_key_commands`, loads the configuration named by
`--config`, and runs them with `run_keys(args, config.store, config.auth)`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec

from gateway.config_file import CONFIG_ENV
from gateway.identity.errors import IdentityError, InvalidKeyRequest
from gateway.identity.factory import open_key_store, pepper_for
from gateway.identity.keys import Pepper
from gateway.identity.management import (
    BUILTIN_ROLES,
    create_key,
    list_keys,
    parse_duration,
    revoke_key,
)
from gateway.identity.records import KeyRecord
from gateway.identity.settings import AuthConfig
from gateway.identity.store import KeyStore
from gateway.storage import StoreConfig

__all__ = ["add_key_commands", "record_summary", "run_key_command", "run_keys"]

_encode_json = msgspec.json.Encoder().encode
_CONFIG_HELP = f"configuration file (default: ${CONFIG_ENV})"


def add_key_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add `keys` and its actions to the `gateway` command's subparsers."""
    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create",
        help="create a key and print it (once: it is not kept)",
        description="Create an API key. The key is printed once on standard output and cannot be shown again.",
    )
    create.add_argument("--config", help=_CONFIG_HELP)
    create.add_argument("--department", required=True, help="the direction the key belongs to, e.g. dgfip")
    create.add_argument("--service", required=True, help="the team or application, e.g. chatbot-impots")
    create.add_argument(
        "--role",
        action="append",
        default=[],
        dest="roles",
        metavar="ROLE",
        help=f"a role, repeatable (default: user; understood by the default policies: {', '.join(BUILTIN_ROLES)})",
    )
    create.add_argument(
        "--expires", metavar="DURATION", help="lifetime such as 90m, 12h, 30d, 2w (default: none)"
    )
    create.add_argument("--label", default="", help="free text: what the key is for, who holds it")
    create.add_argument("--json", action="store_true", help="print a JSON object, key included")

    listing = actions.add_parser("list", help="list keys (never their secrets or hashes)")
    listing.add_argument("--config", help=_CONFIG_HELP)
    listing.add_argument("--department", help="only this department's keys")
    listing.add_argument("--json", action="store_true", help="print a JSON array")

    revoke = actions.add_parser("revoke", help="revoke a key everywhere, within a second")
    revoke.add_argument("--config", help=_CONFIG_HELP)
    revoke.add_argument("key_id", metavar="ID", help="the key's id or display prefix (sgw_...)")
    return keys


def _time(epoch: int | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_summary(record: KeyRecord, now: float) -> dict[str, Any]:
    """What may be shown of a key: everything but its hash (times in epoch seconds)."""
    return {
        "id": record.id,
        "prefix": record.prefix,
        "department": record.department,
        "service": record.service,
        "roles": list(record.roles),
        "label": record.label,
        "created": record.created,
        "expires": record.expires,
        "revoked": record.revoked,
        "last_used": record.last_used,
        "status": record.status(now),
    }


def _table(records: list[KeyRecord], now: float) -> str:
    header = ("ID", "PREFIX", "DEPARTMENT", "SERVICE", "ROLES", "STATUS", "CREATED", "EXPIRES", "REVOKED",
              "LAST USED", "LABEL")  # fmt: skip
    rows = [header] + [
        (
            record.id,
            record.prefix,
            record.department,
            record.service,
            ",".join(record.roles),
            record.status(now),
            _time(record.created),
            _time(record.expires),
            _time(record.revoked),
            _time(record.last_used),
            record.label,
        )
        for record in records
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


async def run_key_command(
    args: argparse.Namespace,
    store: KeyStore,
    pepper: Callable[[], Pepper],
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run one `keys` action against an open store; returns the exit status.

    `pepper` is called only by `create`: listing and revoking need no secret.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    now = time.time()
    try:
        if args.keys_command == "create":
            expires_in = parse_duration(args.expires) if args.expires else None
            record, key = await create_key(
                store, pepper(), args.department, args.service, args.roles, expires_in, args.label
            )
            if args.json:
                print(_encode_json({"key": key, **record_summary(record, now)}).decode(), file=out)
            else:
                # Only the key on standard output, so that `KEY=$(gateway keys create ...)` works.
                print(
                    f"Created {record.prefix} for {record.department}/{record.service} "
                    f"(roles: {', '.join(record.roles)}; expires: {_time(record.expires)}). "
                    "The key below is shown only this once:",
                    file=err,
                )
                print(key, file=out)
        elif args.keys_command == "list":
            records = await list_keys(store, args.department)
            if args.json:
                print(_encode_json([record_summary(record, now) for record in records]).decode(), file=out)
            elif records:
                print(_table(records, now), file=out)
            else:
                print("no keys", file=err)
        elif args.keys_command == "revoke":
            record = await revoke_key(store, args.key_id)
            print(
                f"Revoked {record.prefix} ({record.department}/{record.service}) at {_time(record.revoked)}.",
                file=out,
            )
        else:
            raise AssertionError(f"unhandled keys action {args.keys_command}")
    except InvalidKeyRequest as exc:
        print(f"gateway keys: {exc}", file=err)
        return 2
    except IdentityError as exc:  # unknown key, missing pepper, store failure
        print(f"gateway keys: {exc}", file=err)
        return 1
    return 0


def run_keys(args: argparse.Namespace, store_config: StoreConfig, auth_config: AuthConfig) -> int:
    """Open the configured store, run one `keys` action, close the store."""

    async def run() -> int:
        try:
            store = await open_key_store(store_config)
        except IdentityError as exc:
            print(f"gateway keys: {exc}", file=sys.stderr)
            return 1
        try:
            return await run_key_command(args, store, lambda: pepper_for(store_config, auth_config))
        finally:
            await store.close()

    return asyncio.run(run())
