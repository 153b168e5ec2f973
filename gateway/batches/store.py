"""The protocol both batch stores implement: files' and batches' records, and each batch's work queue.

The work queue is the store's own work-distribution machinery, the same contract on both:

- `enqueue` puts a batch's lines in its queue, once (called again after a crash, it adds only the
  lines still missing);
- `take` gives a process lines no process holds, and those a process took but neither finished nor
  renewed for `claim_after` seconds (it crashed): Redis's consumer group and XAUTOCLAIM, a table's
  rows on SQLite;
- `renew` says the process still works on its lines; `give_back` returns one to the queue untouched
  (its batch is paused);
- `finish` records a line's result line and acknowledges it, at once: a `custom_id` gets one result,
  however many times its line was run (only a line in flight when a process crashed runs again).

Every method raises `BatchStoreUnavailable` when the store cannot be reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from gateway.batches.records import BatchRecord, FileRecord
from gateway.batches.validation import InputLine

__all__ = ["BatchStore", "LineResult", "WorkItem"]


class WorkItem(NamedTuple):
    """A line taken from a batch's queue: `entry` is the queue's handle on it."""

    entry: str
    number: int
    custom_id: str
    body: bytes


class LineResult(NamedTuple):
    number: int
    failed: bool
    line: bytes
    """The output (or error) file's line, as written."""


class BatchStore(Protocol):
    async def add_file(self, record: FileRecord) -> None: ...

    async def file(self, file_id: str) -> FileRecord | None: ...

    async def files(self, department: str | None) -> list[FileRecord]:
        """Newest first; every department's when `department` is None."""
        ...

    async def delete_file(self, file_id: str) -> bool: ...

    async def add_batch(self, record: BatchRecord) -> None: ...

    async def batch(self, batch_id: str) -> BatchRecord | None: ...

    async def batches(self, department: str | None) -> list[BatchRecord]:
        """Newest first; every department's when `department` is None."""
        ...

    async def active_batches(self) -> list[BatchRecord]:
        """The batches whose status is one of `ACTIVE_STATUSES`."""
        ...

    async def replace_batch(self, record: BatchRecord, expected: Sequence[str]) -> bool:
        """Write `record` if the stored one's status is still one of `expected`; False otherwise."""
        ...

    async def enqueue(self, batch_id: str, lines: Sequence[InputLine]) -> None: ...

    async def take(self, batch_id: str, consumer: str, count: int, claim_after: float) -> list[WorkItem]: ...

    async def renew(self, batch_id: str, consumer: str, entries: Sequence[str]) -> None: ...

    async def give_back(self, batch_id: str, item: WorkItem) -> None: ...

    async def finish(self, batch_id: str, item: WorkItem, line: bytes, failed: bool) -> bool:
        """Record the line's result once; False when its `custom_id` already had one (or the batch's
        queue is gone: it was finalized meanwhile)."""
        ...

    async def counts(self, batch_id: str) -> tuple[int, int]:
        """Lines finished so far: (completed, failed)."""
        ...

    async def results(self, batch_id: str) -> list[LineResult]:
        """Every result recorded, in the input file's order."""
        ...

    async def unfinished(self, batch_id: str) -> list[tuple[int, str]]:
        """(line number, custom_id) of the lines with no result, in order."""
        ...

    async def drop_work(self, batch_id: str) -> None:
        """Forget the queue and the results (once they are written to the batch's files)."""
        ...

    async def close(self) -> None: ...
