"""The hash chain: each line names the SHA-256 of the line before it, so no line can be changed,
removed, inserted or moved without breaking the chain where it happened.

A chained line is the record's JSON object with two fields added at its end:

    {"time": ..., ..., "latency_ms": 812.4, "seq": 42, "prev": "<64 hex digits>"}

- `seq` counts the chain's records from 1; it says *what* is missing or moved (a gap, a repeat);
- `prev` is the hex SHA-256 of the previous line's exact bytes, without its newline; the first line
  of a chain carries `GENESIS` (64 zeros).

A chain belongs to one writer (one process) and follows it across rotated files and restarts: the
first line of a new file chains to the last line of the previous one, and a restarted writer reads
the last line on disk and continues from it.

What it proves: that the lines are those written, in that order, provided the last line's hash is
known from elsewhere. SHA-256 has no key: someone who can rewrite the files can also recompute every
hash after their edit, and a chain's last lines can be cut off without a trace. Keep the `seq` and
hash that `gateway audit verify` prints (or copy the files) somewhere the gateway's host cannot
write, and compare.
"""

from __future__ import annotations

import hashlib

import msgspec

from gateway.audit.line import AuditLine

__all__ = ["GENESIS", "ChainLink", "ChainState", "ChainedAuditLine", "line_hash"]

GENESIS = "0" * 64
"""`prev` of a chain's first line: no line comes before it."""


class ChainedAuditLine(AuditLine, kw_only=True, frozen=True, gc=False, forbid_unknown_fields=True):
    """A chained line, read back whole: the record's fields, then `seq` and `prev`. Unknown fields
    are refused, so that `verify` reports a line that carries anything else."""

    seq: int
    """Position of the record in its chain, from 1."""
    prev: str
    """Hex SHA-256 of the previous line (without its newline), or `GENESIS`."""


class ChainLink(msgspec.Struct, frozen=True, gc=False):
    """Only the chain fields of a line: what a restarting writer needs from the last one."""

    seq: int
    prev: str


def line_hash(line: bytes) -> str:
    """The hex SHA-256 of one line's bytes, without its newline: the next line's `prev`."""
    return hashlib.sha256(line).hexdigest()


class ChainState:
    """The end of a chain: the next line's `seq` and `prev`. Owned by the writer's thread."""

    __slots__ = ("next_seq", "prev")

    def __init__(self, next_seq: int = 1, prev: str = GENESIS) -> None:
        self.next_seq = next_seq
        self.prev = prev

    @classmethod
    def after(cls, last_line: bytes | None) -> ChainState:
        """The state that continues the chain ending with `last_line` (None: a new chain). Raises
        `ValueError` if that line is not a chained line."""
        if last_line is None:
            return cls()
        link = msgspec.json.decode(last_line, type=ChainLink)
        if link.seq < 1:
            raise ValueError(f"seq {link.seq} is not a chain position")
        return cls(link.seq + 1, line_hash(last_line))

    def link(self, record_json: bytes) -> bytes:
        """`record_json` (an encoded `AuditLine`, one JSON object) with `seq` and `prev` added at
        its end: the line to write, without its newline. Advances the chain."""
        # Splicing before the closing brace gives exactly `ChainedAuditLine`'s field order without
        # building a second object per record.
        line = b'%s,"seq":%d,"prev":"%s"}' % (record_json[:-1], self.next_seq, self.prev.encode("ascii"))
        self.next_seq += 1
        self.prev = line_hash(line)
        return line
