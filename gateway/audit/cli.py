"""`gateway audit verify`: check the hash chain of audit files, and say where it breaks.

    gateway audit verify FILE [FILE ...] [--partial]
    gateway audit verify DIRECTORY [--partial]

FILEs form one chain, in the order given; a FILE whose rotated files (`FILE.000001`...) lie beside it
stands for its whole series, oldest first, so `gateway audit verify audit.jsonl` checks every file of
that log. A DIRECTORY stands for every series in it (one per worker), each checked on its own.

Prints, per chain, `OK` with its record count, last `seq` and last line hash (keep that hash
elsewhere: it is what shows, later, that the end of the chain was not cut or rewritten), or every
break as `file:line: what: why`. Exit status: 0 every chain is intact, 1 a chain is broken, 2 a file
cannot be read or the command is wrong. No configuration is read: the files say everything.

`gateway/cli.py` adds the command with `add_audit_commands` and runs it with `run_audit_command`;
`python -m gateway.audit audit verify ...` does the same on its own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gateway.audit.errors import AuditError
from gateway.audit.files import series_files, series_in
from gateway.audit.verify import VerifyResult, verify_chain

__all__ = ["add_audit_commands", "chains_to_verify", "main", "run_audit_command"]


def add_audit_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add `audit` and its actions to the `gateway` command's subparsers."""
    audit = commands.add_parser("audit", help="audit log tools")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="check the hash chain of audit files",
        description=(
            "Check that no line of a chained audit log was changed, removed, inserted or moved, and say "
            "where if one was. Exit status: 0 intact, 1 broken, 2 unreadable files or wrong command."
        ),
    )
    verify.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files of one chain in order (a file with rotated siblings stands for its whole series), "
        "or a directory (every series in it)",
    )
    verify.add_argument(
        "--partial",
        action="store_true",
        help="accept a chain whose first lines are gone (older rotated files deleted on purpose)",
    )
    return audit


def chains_to_verify(paths: Sequence[str | Path]) -> list[list[Path]]:
    """The chains `paths` name: one per series of each directory, and one made of all the files
    (each expanded to its series, none twice). Raises `AuditError` for a path that does not exist."""
    chains: list[list[Path]] = []
    files: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            chains.extend(series_in(given))
            continue
        # A missing current file is normal just after a rotation: its rotated files still count.
        series = series_files(given)
        if not series:
            raise AuditError(f"{given}: no such file")
        files.extend(path for path in series if path not in files)
    if files:
        chains.insert(0, files)
    return chains


def _label(result: VerifyResult) -> str:
    files = result.files
    return ", ".join(files) if len(files) <= 3 else f"{files[0]} ... {files[-1]} ({len(files)} files)"


def _print_result(result: VerifyResult, out: TextIO) -> None:
    label = _label(result)
    if result.intact:
        if result.records == 0:
            print(f"{label}: OK: empty", file=out)
        else:
            print(
                f"{label}: OK: {result.records} records, seq {result.first_seq} to {result.last_seq}, "
                f"last line hash {result.last_hash}",
                file=out,
            )
        return
    for problem in result.problems:
        print(problem, file=out)
    if result.more_problems:
        print(f"... and {result.more_problems} more", file=out)
    count = len(result.problems) + result.more_problems
    print(f"{label}: BROKEN: {count} problem(s) in {result.lines} lines", file=out)


def run_audit_command(
    args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the `audit` action parsed by a parser that `add_audit_commands` extended."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.audit_command != "verify":
        raise AssertionError(f"unhandled audit action {args.audit_command}")
    try:
        chains = chains_to_verify(args.paths)
        if not chains:
            print("gateway audit verify: no audit files found", file=err)
            return 2
        results = [verify_chain(files, partial=args.partial) for files in chains]
    except AuditError as exc:
        print(f"gateway audit verify: {exc}", file=err)
        return 2
    for result in results:
        _print_result(result, out)
    return 0 if all(result.intact for result in results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m gateway.audit audit verify ...`."""
    parser = argparse.ArgumentParser(prog="gateway", description="Audit log tools.")
    add_audit_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return run_audit_command(parser.parse_args(argv))
