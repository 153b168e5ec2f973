"""`gateway batches list|show|cancel`: the batches of every department, from an operator's shell.

    gateway batches list [--department D] [--json]
    gateway batches show BATCH_ID
    gateway batches cancel BATCH_ID

They read and write the configured store directly (no running gateway needed); a batch cancelled
here is finalized by the gateway processes that run batches, as one cancelled through the API.
Exit status: 0 done, 1 the store failed or the batch is unknown or cannot be cancelled, 2 the
command or configuration is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, TextIO

from gateway.batches.settings import BatchesConfig
from gateway.config_file import CONFIG_ENV
from gateway.errors import GatewayError
from gateway.storage import StoreConfig

__all__ = ["add_batch_commands", "run_batches"]


def add_batch_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    batches = commands.add_parser("batches", help="list, show and cancel batch jobs")
    actions = batches.add_subparsers(dest="batches_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every batch, newest first, with its progress")
    listing.add_argument("--department", help="only this department's batches")
    listing.add_argument("--json", action="store_true", help="OpenAI's Batch objects, as JSON")
    show = actions.add_parser("show", help="one batch, as OpenAI's Batch object")
    show.add_argument("batch_id")
    cancel = actions.add_parser("cancel", help="stop a batch; the results so far are kept")
    cancel.add_argument("batch_id")
    for parser in (listing, show, cancel):
        parser.add_argument("--config", help=f"configuration file (default: ${CONFIG_ENV})")


def _table(rows: list[tuple[str, dict[str, Any]]], out: TextIO) -> None:
    header = f"{'ID':<32} {'DEPARTMENT':<16} {'STATUS':<12} {'PROGRESS':>15} {'ENDPOINT':<22} CREATED (UTC)"
    print(header, file=out)
    for department, batch in rows:
        counts = batch["request_counts"]
        done = counts["completed"] + counts["failed"]
        progress = f"{done}/{counts['total']}" + (f" ({counts['failed']} failed)" if counts["failed"] else "")
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(batch["created_at"]))
        print(
            f"{batch['id']:<32} {department:<16} {batch['status']:<12} {progress:>15} "
            f"{batch['endpoint']:<22} {created}",
            file=out,
        )


async def _run(
    args: argparse.Namespace, store_config: StoreConfig, config: BatchesConfig, out: TextIO
) -> int:
    # Imported here: `gateway --help` and the other commands need none of the pipeline's modules.
    from gateway.batches.disk import FileDirectory
    from gateway.batches.factory import open_batch_store
    from gateway.batches.service import Batches

    store = await open_batch_store(store_config, runs_batches=False)
    try:
        directory = FileDirectory(config.files_directory(store_config.path))
        batches = Batches(config, store, directory, runner=None)
        if args.batches_command == "list":
            records = await store.batches(args.department)
            rows = [(record.owner.department, await batches.shown(record)) for record in records]
            if args.json:
                print(json.dumps([batch for _, batch in rows], indent=2), file=out)
            else:
                _table(rows, out)
        elif args.batches_command == "show":
            print(json.dumps(await batches.batch(None, args.batch_id), indent=2), file=out)
        else:
            shown = await batches.cancel(None, args.batch_id)
            print(f"{shown['id']}: {shown['status']}", file=out)
    finally:
        await store.close()
    return 0


def run_batches(
    args: argparse.Namespace, store: StoreConfig, config: BatchesConfig, out: TextIO = sys.stdout
) -> int:
    try:
        return asyncio.run(_run(args, store, config, out))
    except GatewayError as exc:
        print(f"gateway batches: {exc.message}", file=sys.stderr)
        return 1
