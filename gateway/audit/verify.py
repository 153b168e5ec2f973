"""Checking a chain: every line well-formed, numbered in sequence, and naming its predecessor's hash.

`verify_chain(files)` reads one chain's files in order (rotated files oldest first, then the current
one: `series_files` lists them) and reports each break where it is seen:

- `malformed`      the line is not a chained audit line (not JSON, a field missing, added or mistyped);
- `incomplete`     the file ends in the middle of a line (a write cut short by a crash);
- `start`          the first line is not the chain's first (seq 1, genesis `prev`): earlier files are
                   missing; `partial=True` accepts that, for a series whose oldest files were deleted;
- `sequence`       `seq` does not follow the previous line's: lines were removed here (a gap), or this
                   line was inserted, repeated or moved (a step back);
- `hash_mismatch`  `seq` follows, but the next line's `prev` is not this line's hash: this line was
                   edited (or the next line's `prev` was). Reported at the edited line.

After a break, checking goes on from the line that broke (or, after a step back, from the line
before it, or the stray line if the chain continues from there), so that each alteration is reported
once or twice (a swap of two lines shows at both), not at every line that follows. What no chain can show, without a hash kept
elsewhere, is the end of the chain cut off or rewritten: `VerifyResult.last_hash` is that hash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from gateway.audit.chain import GENESIS, ChainedAuditLine, line_hash
from gateway.audit.errors import AuditError

__all__ = ["ChainProblem", "ProblemKind", "VerifyResult", "verify_chain"]

ProblemKind = Literal["malformed", "incomplete", "start", "sequence", "hash_mismatch"]

_LABELS: dict[ProblemKind, str] = {
    "malformed": "malformed line",
    "incomplete": "incomplete line",
    "start": "chain start missing",
    "sequence": "sequence break",
    "hash_mismatch": "hash mismatch",
}


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One break in a chain: which file, which line (from 1), what kind, and what it means."""

    path: str
    line: int
    kind: ProblemKind
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {_LABELS[self.kind]}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What `verify_chain` found."""

    files: tuple[str, ...]
    lines: int
    """Lines read, in all files."""
    records: int
    """Lines that are well-formed chained records."""
    first_seq: int | None
    last_seq: int | None
    last_hash: str | None
    """The hash of the chain's last line: keep it elsewhere to detect, later, a cut or rewritten end."""
    problems: tuple[ChainProblem, ...]
    """The breaks, in the order they were found (at most `max_problems`)."""
    more_problems: int
    """Breaks found beyond `max_problems`, not listed."""

    @property
    def intact(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class _Anchor:
    """The last well-formed line: what the next line must follow."""

    path: Path
    line: int
    seq: int
    hash: str

    def where(self, current: Path) -> str:
        return f"line {self.line}" if self.path == current else f"{self.path}:{self.line}"


class _Checker:
    def __init__(self, *, partial: bool, max_problems: int) -> None:
        self.partial = partial
        self.max_problems = max_problems
        self.problems: list[ChainProblem] = []
        self.more_problems = 0
        self.lines = 0
        self.records = 0
        self.first_seq: int | None = None
        self.anchor: _Anchor | None = None
        """The last line the chain was followed to; None after a malformed line (checking restarts)."""
        self.stray: _Anchor | None = None
        """A line just reported as out of place, in case the chain goes on from it."""
        self.last: _Anchor | None = None
        """The last line read, if well-formed: the end of the chain."""
        self.at_start = True
        self.decoder = msgspec.json.Decoder(ChainedAuditLine)

    def report(self, path: Path, line: int, kind: ProblemKind, detail: str) -> None:
        if len(self.problems) < self.max_problems:
            self.problems.append(ChainProblem(str(path), line, kind, detail))
        else:
            self.more_problems += 1

    def check(self, path: Path, number: int, raw: bytes) -> None:
        self.lines += 1
        if not raw.endswith(b"\n"):
            self.report(path, number, "incomplete", "the file ends inside this line (a write cut short)")
            self.anchor = self.stray = self.last = None
            self.at_start = False
            return
        content = raw[:-1]
        try:
            record = self.decoder.decode(content)
        except msgspec.DecodeError as exc:
            self.report(path, number, "malformed", f"not a chained audit line: {exc}")
            self.anchor = self.stray = self.last = None  # nothing to compare the next line with
            self.at_start = False
            return
        here = self.last = _Anchor(path, number, record.seq, line_hash(content))
        self.records += 1
        if self.first_seq is None:
            self.first_seq = record.seq
        if self.at_start:
            self.at_start = False
            if (record.seq != 1 or record.prev != GENESIS) and not self.partial:
                self.report(
                    path,
                    number,
                    "start",
                    f"the chain's first line has seq {record.seq}, not 1 with the genesis prev: its "
                    "earlier lines are missing (older files deleted or not given?); "
                    "use --partial to check the part that is there",
                )
            self.anchor = here
            return
        anchor, stray = self.anchor, self.stray
        if anchor is None or _follows(record, anchor):
            self.anchor, self.stray = here, None
            return
        if stray is not None and _follows(record, stray):
            # The line reported as out of place began the chain that goes on: follow it, silently
            # (a chain appended after another one is one break, not one per line).
            self.anchor, self.stray = here, None
            return
        expected = anchor.seq + 1
        if record.seq > expected:
            self.report(
                path,
                number,
                "sequence",
                f"seq {record.seq} follows seq {anchor.seq} ({anchor.where(path)}): "
                f"{record.seq - expected} line(s) missing before this one, or lines moved",
            )
        elif record.seq < expected:
            self.report(
                path,
                number,
                "sequence",
                f"seq {record.seq} follows seq {anchor.seq} ({anchor.where(path)}): "
                "a line was inserted, repeated or moved here",
            )
            # Most likely a line that does not belong here: the next one is checked against the line
            # before it, and against it in case the chain goes on from it.
            self.stray = here
            return
        else:
            self.report(
                anchor.path,
                anchor.line,
                "hash_mismatch",
                f"the line's hash is not the prev of seq {record.seq} that follows it "
                f"({path}:{number}): this line was edited (or that prev was)",
            )
        self.anchor, self.stray = here, None


def _follows(record: ChainedAuditLine, anchor: _Anchor) -> bool:
    return record.seq == anchor.seq + 1 and record.prev == anchor.hash


def verify_chain(
    paths: Iterable[str | Path], *, partial: bool = False, max_problems: int = 100
) -> VerifyResult:
    """Check the chain that runs through `paths`, in the order given. Raises `AuditError` when a
    file cannot be read; breaks in the chain are results, not errors."""
    checker = _Checker(partial=partial, max_problems=max_problems)
    files = [Path(path) for path in paths]
    for path in files:
        try:
            with path.open("rb") as file:
                for number, raw in enumerate(file, start=1):
                    checker.check(path, number, raw)
        except OSError as exc:
            raise AuditError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    last = checker.last
    return VerifyResult(
        files=tuple(str(path) for path in files),
        lines=checker.lines,
        records=checker.records,
        first_seq=checker.first_seq,
        last_seq=last.seq if last is not None else None,
        last_hash=last.hash if last is not None else None,
        problems=tuple(checker.problems),
        more_problems=checker.more_problems,
    )
