"""`python -m gateway.config_docs [--check] [FILE]`: rewrite (or check) the configuration reference."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.config import GatewayConfig
from gateway.config_docs._document import COMMAND, REFERENCE, render_reference
from gateway.config_docs._errors import ConfigDocsError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Write the tables of the configuration reference from the configuration models' "
        "field docstrings, keeping the prose around them. Exit status: 0 written or up to date, "
        "1 out of date (--check), 2 it cannot be written (the message says why).",
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if it is out of date")
    parser.add_argument("file", nargs="?", type=Path, default=REFERENCE, help=f"default: {REFERENCE}")
    args = parser.parse_args(argv)
    try:
        text = args.file.read_text(encoding="utf-8")
        rendered = render_reference(text, GatewayConfig)
    except (OSError, ConfigDocsError) as exc:
        print(f"{COMMAND}: {exc}", file=sys.stderr)
        return 2
    if rendered == text:
        print(f"{args.file}: up to date")
        return 0
    if args.check:
        print(f"{args.file}: out of date: run {COMMAND}", file=sys.stderr)
        return 1
    args.file.write_text(rendered, encoding="utf-8")
    print(f"{args.file}: rewritten")
    return 0
