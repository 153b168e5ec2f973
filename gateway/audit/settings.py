"""The `audit` configuration section: where the audit log goes, chained or not, rotated or not."""

from __future__ import annotations

import string
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.audit.files import WORKER_PLACEHOLDER

__all__ = ["STDOUT", "AuditConfig"]

STDOUT = "-"


class AuditConfig(BaseModel):
    """One JSON line per request (ids, decision, counts, costs; never prompt text), written in the
    background by each worker."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = False
    """Write the audit log."""
    path: Annotated[str, Field(min_length=1)] = STDOUT
    """The file lines are appended to, or `-` for standard output (one line per `write`, never mixed
    with another worker's). With several workers and `hash_chain` or `rotate_bytes`, put `{worker}` in
    it (`/var/log/gateway/audit-{worker}.jsonl`): each worker then owns a file, numbered from 0. A
    relative path is relative to the working directory; missing directories are created."""
    hash_chain: bool = False
    """Add `seq` and `prev` (SHA-256 of the previous line) to every line, so that `gateway audit
    verify` finds any line changed, removed, inserted or moved. Needs a file: the chain continues
    across rotations and restarts, which standard output cannot do."""
    rotate_bytes: Annotated[int, Field(ge=65_536)] | None = None
    """Start a new file before one would grow beyond this many bytes; the full one is renamed
    `<path>.000001`, `.000002`... (the lowest is the oldest); needs a file, not `-`. Unset: one file
    that only grows. Do not rotate the file with another tool while the gateway runs: `copytruncate`
    loses lines, and a moved file keeps receiving them."""
    keep_files: Annotated[int, Field(ge=1, le=100_000)] | None = None
    """Rotated files to keep (with `rotate_bytes`); older ones are deleted. Unset: keep them all
    (archive them elsewhere: an audit log is evidence)."""
    fsync: bool = False
    """Ask the disk to store each batch (`fsync`) before going on: a power cut then loses nothing
    that was written, at the cost of a disk flush per batch."""
    flush_interval_seconds: Annotated[float, Field(gt=0, le=10)] = 0.5
    """How often buffered lines are written. A crash loses at most this much of the log."""
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 1000
    """Lines that wake the writer at once, without waiting for the interval."""
    max_buffered_records: Annotated[int, Field(ge=1000, le=10_000_000)] = 100_000
    """Records kept in memory (per worker) while the disk is slow or failing, about 600 bytes each;
    beyond this new records are dropped, counted and logged: the request path never waits for the
    disk."""
    close_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0
    """At shutdown, how long to keep trying to write what is buffered if the disk is failing."""

    @model_validator(mode="after")
    def _check(self) -> AuditConfig:
        if self.path == STDOUT:
            if self.hash_chain:
                raise ValueError(
                    "hash_chain needs a file path: a chain on standard output cannot be resumed after a "
                    "restart, and the lines of several workers would be interleaved in one stream"
                )
            if self.rotate_bytes is not None:
                raise ValueError("rotate_bytes needs a file path, not standard output (-)")
        fields = {name for _, name, _, _ in string.Formatter().parse(self.path) if name is not None}
        if fields - {"worker"} or (fields and WORKER_PLACEHOLDER not in self.path):
            raise ValueError(f"path: the only placeholder allowed is {WORKER_PLACEHOLDER}")
        if self.keep_files is not None and self.rotate_bytes is None:
            raise ValueError("keep_files only applies to rotated files: set rotate_bytes too")
        return self

    def workers_problem(self, workers: int) -> str | None:
        """Why this section cannot serve `workers` worker processes, or None. A chained or rotated file
        has one writer (a chain cannot be shared without a lock on every line, and a rotation would
        pull the file from under the other writers), so several workers need `{worker}` in the path.
        Call it from the configuration's validation, where the number of workers is known."""
        if (
            self.enabled
            and workers > 1
            and (self.hash_chain or self.rotate_bytes is not None)
            and WORKER_PLACEHOLDER not in self.path
        ):
            return (
                f"audit: {workers} workers cannot share one chained or rotated file: put {WORKER_PLACEHOLDER} "
                f"in audit.path (e.g. audit-{WORKER_PLACEHOLDER}.jsonl) so that each worker owns one"
            )
        return None
