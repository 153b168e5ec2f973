"""Files' and batches' records and the batches' work queues in a SQLite file of their own (one process).

The work queue is a table: a line is queued, taken (by a process, at a time) or done (with its
result). One process only uses the embedded store (the gateway refuses several workers on it), so at
opening every taken line goes back to the queue: what the previous process had in flight when it
stopped runs again, and nothing it finished does. WAL with `synchronous=NORMAL`: a line recorded done
survives the process being killed; a power cut may lose the last few, which then run again (their
`custom_id` still gets one result). `FULL` would fsync every line, a sixth of the throughput.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from gateway.batches.errors import BatchStoreUnavailable
from gateway.batches.records import (
    ACTIVE_STATUSES,
    BatchRecord,
    FileRecord,
    batch_decoder,
    encode,
    file_decoder,
)
from gateway.batches.store import LineResult, WorkItem
from gateway.batches.validation import InputLine
from gateway.storage.sqlite import SqliteThread, open_versioned

__all__ = ["EmbeddedBatchStore"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    department TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    record BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS files_department ON files (department, created_at);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    department TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    record BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batches_department ON batches (department, created_at);
CREATE INDEX IF NOT EXISTS batches_status ON batches (status);
CREATE TABLE IF NOT EXISTS batch_lines (
    batch_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    body BLOB NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    consumer TEXT,
    taken_at REAL,
    failed INTEGER NOT NULL DEFAULT 0,
    result BLOB,
    PRIMARY KEY (batch_id, number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batch_lines_state ON batch_lines (batch_id, state, number)
"""
_VERSION = 1
_QUEUED, _TAKEN, _DONE = 0, 1, 2


class _Unavailable(Exception):
    pass


class EmbeddedBatchStore:
    __slots__ = ("_connection", "_thread")

    def __init__(self, connection: sqlite3.Connection, thread: SqliteThread) -> None:
        self._connection = connection
        self._thread = thread

    @classmethod
    async def open(cls, path: Path, *, runs_batches: bool = True) -> EmbeddedBatchStore:
        """`runs_batches`: this process is the one that runs the batches (the gateway), whose start
        puts back what the previous one had in flight; not the command line, beside a running one."""
        thread = SqliteThread("batches", _Unavailable, f"batches in {path}")
        try:
            connection = await thread.run(
                functools.partial(open_versioned, synchronous="NORMAL"), path, _SCHEMA, _VERSION, _Unavailable
            )
        except _Unavailable as exc:
            thread.shutdown(wait=False)
            raise BatchStoreUnavailable() from exc
        store = cls(connection, thread)
        if not runs_batches:
            return store
        try:
            await store._run(store._requeue_taken)
        except BaseException:
            await store.close()
            raise
        return store

    def _requeue_taken(self) -> None:
        self._connection.execute(
            "UPDATE batch_lines SET state = ?, consumer = NULL WHERE state = ?", (_QUEUED, _TAKEN)
        )

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        try:
            return await self._thread.run(function, *args)
        except _Unavailable as exc:
            raise BatchStoreUnavailable() from exc

    async def close(self) -> None:
        await self._thread.run(self._connection.close)
        self._thread.shutdown(wait=True)

    # -- files -----------------------------------------------------------------------------------

    async def add_file(self, record: FileRecord) -> None:
        await self._run(
            self._execute,
            "INSERT OR REPLACE INTO files (id, department, created_at, record) VALUES (?, ?, ?, ?)",
            (record.id, record.owner.department, record.created_at, encode(record)),
        )

    def _execute(self, statement: str, parameters: tuple[object, ...]) -> int:
        return self._connection.execute(statement, parameters).rowcount

    def _column(self, statement: str, parameters: tuple[object, ...]) -> list[bytes]:
        return [bytes(row[0]) for row in self._connection.execute(statement, parameters)]

    async def file(self, file_id: str) -> FileRecord | None:
        rows = await self._run(self._column, "SELECT record FROM files WHERE id = ?", (file_id,))
        return file_decoder.decode(rows[0]) if rows else None

    async def files(self, department: str | None) -> list[FileRecord]:
        if department is None:
            rows = await self._run(self._column, "SELECT record FROM files ORDER BY created_at DESC, id", ())
        else:
            rows = await self._run(
                self._column,
                "SELECT record FROM files WHERE department = ? ORDER BY created_at DESC, id",
                (department,),
            )
        return [file_decoder.decode(row) for row in rows]

    async def delete_file(self, file_id: str) -> bool:
        return await self._run(self._execute, "DELETE FROM files WHERE id = ?", (file_id,)) > 0

    # -- batches ---------------------------------------------------------------------------------

    async def add_batch(self, record: BatchRecord) -> None:
        await self._run(
            self._execute,
            "INSERT INTO batches (id, department, created_at, status, record) VALUES (?, ?, ?, ?, ?)",
            (record.id, record.owner.department, record.created_at, record.status, encode(record)),
        )

    async def batch(self, batch_id: str) -> BatchRecord | None:
        rows = await self._run(self._column, "SELECT record FROM batches WHERE id = ?", (batch_id,))
        return batch_decoder.decode(rows[0]) if rows else None

    async def batches(self, department: str | None) -> list[BatchRecord]:
        if department is None:
            rows = await self._run(
                self._column, "SELECT record FROM batches ORDER BY created_at DESC, id", ()
            )
        else:
            rows = await self._run(
                self._column,
                "SELECT record FROM batches WHERE department = ? ORDER BY created_at DESC, id",
                (department,),
            )
        return [batch_decoder.decode(row) for row in rows]

    async def active_batches(self) -> list[BatchRecord]:
        rows = await self._run(
            self._column,
            "SELECT record FROM batches WHERE status IN (SELECT value FROM json_each(?)) ORDER BY created_at, id",
            (json.dumps(sorted(ACTIVE_STATUSES)),),
        )
        return [batch_decoder.decode(row) for row in rows]

    async def replace_batch(self, record: BatchRecord, expected: Sequence[str]) -> bool:
        changed = await self._run(
            self._execute,
            "UPDATE batches SET status = ?, record = ? WHERE id = ? AND status IN (SELECT value FROM json_each(?))",
            (record.status, encode(record), record.id, json.dumps(list(expected))),
        )
        return changed > 0

    # -- work queue ------------------------------------------------------------------------------

    async def enqueue(self, batch_id: str, lines: Sequence[InputLine]) -> None:
        await self._run(self._enqueue, batch_id, lines)

    def _enqueue(self, batch_id: str, lines: Sequence[InputLine]) -> None:
        with self._connection:  # one transaction: all the lines or none
            self._connection.execute("BEGIN")
            self._connection.executemany(
                "INSERT OR IGNORE INTO batch_lines (batch_id, number, custom_id, body) VALUES (?, ?, ?, ?)",
                [(batch_id, line.number, line.custom_id, line.body) for line in lines],
            )

    async def take(self, batch_id: str, consumer: str, count: int, claim_after: float) -> list[WorkItem]:
        return await self._run(self._take, batch_id, consumer, count, time.time(), claim_after)

    def _take(
        self, batch_id: str, consumer: str, count: int, now: float, claim_after: float
    ) -> list[WorkItem]:
        rows = self._connection.execute(
            "SELECT number, custom_id, body FROM batch_lines WHERE batch_id = ? AND "
            "(state = ? OR (state = ? AND taken_at < ?)) ORDER BY number LIMIT ?",
            (batch_id, _QUEUED, _TAKEN, now - claim_after, count),
        ).fetchall()
        if rows:
            self._connection.executemany(
                "UPDATE batch_lines SET state = ?, consumer = ?, taken_at = ? WHERE batch_id = ? AND number = ?",
                [(_TAKEN, consumer, now, batch_id, row[0]) for row in rows],
            )
        return [WorkItem(str(row[0]), row[0], row[1], bytes(row[2])) for row in rows]

    async def renew(self, batch_id: str, consumer: str, entries: Sequence[str]) -> None:
        await self._run(self._renew, batch_id, consumer, entries, time.time())

    def _renew(self, batch_id: str, consumer: str, entries: Sequence[str], now: float) -> None:
        self._connection.executemany(
            "UPDATE batch_lines SET taken_at = ? WHERE batch_id = ? AND number = ? AND consumer = ? AND state = ?",
            [(now, batch_id, int(entry), consumer, _TAKEN) for entry in entries],
        )

    async def give_back(self, batch_id: str, item: WorkItem) -> None:
        await self._run(
            self._execute,
            "UPDATE batch_lines SET state = ?, consumer = NULL WHERE batch_id = ? AND number = ? AND state = ?",
            (_QUEUED, batch_id, item.number, _TAKEN),
        )

    async def finish(self, batch_id: str, item: WorkItem, line: bytes, failed: bool) -> bool:
        changed = await self._run(
            self._execute,
            "UPDATE batch_lines SET state = ?, failed = ?, result = ?, consumer = NULL "
            "WHERE batch_id = ? AND number = ? AND state != ?",
            (_DONE, int(failed), line, batch_id, item.number, _DONE),
        )
        return changed > 0

    async def counts(self, batch_id: str) -> tuple[int, int]:
        return await self._run(self._counts, batch_id)

    def _counts(self, batch_id: str) -> tuple[int, int]:
        row = self._connection.execute(
            "SELECT COALESCE(SUM(failed = 0), 0), COALESCE(SUM(failed = 1), 0) FROM batch_lines "
            "WHERE batch_id = ? AND state = ?",
            (batch_id, _DONE),
        ).fetchone()
        return int(row[0]), int(row[1])

    async def results(self, batch_id: str) -> list[LineResult]:
        return await self._run(self._results, batch_id)

    def _results(self, batch_id: str) -> list[LineResult]:
        rows = self._connection.execute(
            "SELECT number, failed, result FROM batch_lines WHERE batch_id = ? AND state = ? ORDER BY number",
            (batch_id, _DONE),
        )
        return [LineResult(row[0], bool(row[1]), bytes(row[2])) for row in rows]

    async def unfinished(self, batch_id: str) -> list[tuple[int, str]]:
        return await self._run(self._unfinished, batch_id)

    def _unfinished(self, batch_id: str) -> list[tuple[int, str]]:
        rows = self._connection.execute(
            "SELECT number, custom_id FROM batch_lines WHERE batch_id = ? AND state != ? ORDER BY number",
            (batch_id, _DONE),
        )
        return [(int(row[0]), str(row[1])) for row in rows]

    async def drop_work(self, batch_id: str) -> None:
        await self._run(self._execute, "DELETE FROM batch_lines WHERE batch_id = ?", (batch_id,))
