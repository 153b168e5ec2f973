"""`gateway usage report` and `statement`: a month's usage from an operator's shell.

    gateway usage report --config gateway.yaml --period 2026-11 [--by department|service|model|day]
        [--department D] [--format table|csv|json]
    gateway usage statement --config gateway.yaml --period 2026-11 --department D
        [--format pdf|csv] [--output FILE]

A statement is one department's month per service and model, signed off with the audit log's chain
heads (`gateway/metering/statements.py`); PDF or CSV, to `--output` (default: standard output for
CSV, `statement-<department>-<period>.pdf` for a PDF).

`gateway/cli.py` adds the command with `add_usage_commands`, loads the configuration named by
`--config` and runs it with `run_usage(args, config.store, config.metering)`. Until then, and for
hosts without the full configuration, `python -m gateway.metering usage report ...` does the same
from the file's `store` and `metering` sections alone.

Exit status: 0 the report was printed, 1 the store failed, 2 the command or configuration is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gateway.audit.errors import AuditError
from gateway.audit.heads import chain_heads
from gateway.audit.settings import AuditConfig
from gateway.config_file import CONFIG_ENV, ConfigError, Sections, config_path, read_config
from gateway.metering.errors import InvalidUsageQuery, MeteringError
from gateway.metering.factory import open_usage_store
from gateway.metering.reports import DIMENSIONS, FORMATS, render, usage_report
from gateway.metering.settings import MeteringConfig
from gateway.metering.statements import monthly_statement, render_statement_csv
from gateway.metering.store import UsageStore
from gateway.storage import StoreConfig

__all__ = ["add_usage_commands", "main", "run_usage", "run_usage_command"]


def add_usage_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add `usage` and its actions to the `gateway` command's subparsers."""
    usage = commands.add_parser("usage", help="usage reports per department, service, model or day")
    actions = usage.add_subparsers(dest="usage_command", required=True, metavar="ACTION")
    report = actions.add_parser(
        "report",
        help="one month's usage, grouped",
        description=(
            "Print one month's usage (requests, tokens, weighted cost, euros) grouped by department, "
            "service, model or day. Exit status: 0 printed, 1 store failure, 2 wrong command or configuration."
        ),
    )
    report.add_argument("--config", help=f"configuration file (default: ${CONFIG_ENV})")
    report.add_argument(
        "--period", required=True, metavar="YYYY-MM", help="a calendar month in the configured time zone"
    )
    report.add_argument(
        "--by",
        default="department",
        metavar="DIMENSION",
        help=f"group by {', '.join(DIMENSIONS)} (default: department); several with commas, e.g. model,day",
    )
    report.add_argument("--department", help="only this department's usage")
    report.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    statement = actions.add_parser(
        "statement",
        help="one department's monthly statement, PDF or CSV",
        description=(
            "Write one department's statement of a month: requests, tokens, euros and energy per service "
            "and model, each service's subtotal and the total, signed off with the audit log's chain "
            "heads. Exit status: 0 written, 1 store or audit log failure, 2 wrong command or configuration."
        ),
    )
    statement.add_argument("--config", help=f"configuration file (default: ${CONFIG_ENV})")
    statement.add_argument("--period", required=True, metavar="YYYY-MM", help="a calendar month")
    statement.add_argument("--department", required=True, help="the department the statement is for")
    statement.add_argument("--format", choices=("pdf", "csv"), default="pdf", help="default: pdf")
    statement.add_argument(
        "--output", metavar="FILE", help="where to write it (default: stdout for csv, statement-D-P.pdf)"
    )
    return usage


async def _statement(
    args: argparse.Namespace, store: UsageStore, audit: AuditConfig, out: TextIO, err: TextIO
) -> int:
    try:
        heads = await asyncio.to_thread(chain_heads, audit)
        statement = await monthly_statement(store, args.period, args.department, heads)
    except InvalidUsageQuery as exc:
        print(f"gateway usage: --{exc.param}: {exc}", file=err)
        return 2
    except (MeteringError, AuditError) as exc:
        print(f"gateway usage: {exc}", file=err)
        return 1
    if args.format == "csv":
        text = render_statement_csv(statement)
        if args.output is None:
            out.write(text)
        else:
            await asyncio.to_thread(Path(args.output).write_text, text, encoding="utf-8")
    else:
        from gateway.metering.statement_pdf import statement_pdf

        path = Path(args.output or f"statement-{args.department}-{statement.period}.pdf")
        document = await asyncio.to_thread(statement_pdf, statement)
        await asyncio.to_thread(path.write_bytes, document)
        print(f"wrote {path}", file=err)
    if not statement.lines:
        print(f"no usage recorded for {args.department} in {statement.period}", file=err)
    if any(not head.intact for head in statement.chain_heads):
        print("warning: an audit chain is broken: run gateway audit verify", file=err)
    return 0


async def run_usage_command(
    args: argparse.Namespace,
    store: UsageStore,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    audit: AuditConfig | None = None,
) -> int:
    """Run one `usage` action against an open store; returns the exit status. `audit`: the
    configuration's `audit` section, whose chains sign statements off."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.usage_command == "statement":
        return await _statement(args, store, audit or AuditConfig(), out, err)
    if args.usage_command != "report":
        raise AssertionError(f"unhandled usage action {args.usage_command}")
    try:
        report = await usage_report(store, args.period, by=args.by, department=args.department)
        text = render(report, args.format)
    except InvalidUsageQuery as exc:
        print(f"gateway usage: --{exc.param}: {exc}", file=err)
        return 2
    except MeteringError as exc:
        print(f"gateway usage: {exc}", file=err)
        return 1
    out.write(text)
    if not report.rows:
        print(f"no usage recorded in {report.period} ({report.timezone})", file=err)
    return 0


def run_usage(
    args: argparse.Namespace,
    store_config: StoreConfig,
    settings: MeteringConfig | None = None,
    audit: AuditConfig | None = None,
) -> int:
    """Open the configured usage store (never creating it), run one `usage` action, close the store."""

    async def run() -> int:
        try:
            store = await open_usage_store(store_config, settings, read_only=True)
        except MeteringError as exc:
            print(f"gateway usage: {exc}", file=sys.stderr)
            return 1
        try:
            return await run_usage_command(args, store, audit=audit)
        finally:
            await store.close()

    return asyncio.run(run())


class _UsageSections(Sections):
    """The sections this command reads; the rest of the file is the gateway's business. (A
    relative `store.path` is relative to the working directory, as `gateway serve` reads it.)"""

    store: StoreConfig = StoreConfig()
    metering: MeteringConfig = MeteringConfig()
    audit: AuditConfig = AuditConfig()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m gateway.metering usage report ...`."""
    parser = argparse.ArgumentParser(prog="python -m gateway.metering")
    add_usage_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    try:
        sections = read_config(config_path(args.config), _UsageSections)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return run_usage(args, sections.store, sections.metering, sections.audit)
