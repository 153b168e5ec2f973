"""The embedded usage store: one SQLite table of records, nothing to install.

The file is a sibling of the key store's (`data/gateway.db` -> `data/gateway.usage.db`): usage
writes then never wait for SQLite's single writer lock behind key writes (nor the reverse), and the
file can be copied, archived or handed to finance on its own.

sqlite3 blocks, so calls run on threads that own their connection: one writer, one reader (WAL lets
reports read while batches are written). Each batch is one transaction that also records its batch
id, so that a batch written again after a failure whose outcome was unknown is not counted twice;
batch ids are forgotten after a day.

Reports group at query time by local day ranges (`start <= time < end`, by the `time` index), so
they do not depend on the time zone configured when the records were written.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time as clock
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from gateway.metering.errors import UsageStoreError
from gateway.metering.periods import DEFAULT_TIMEZONE, Calendar, Period
from gateway.metering.records import METERED_FIELDS, UsageCell, micro_euros, micro_units, read_metered
from gateway.metering.store import UsageStore
from gateway.request_record import RequestRecord
from gateway.storage.sqlite import SqliteThread, open_versioned

__all__ = ["EmbeddedUsageStore"]

T = TypeVar("T")

_SCHEMA_VERSION = 3
# The statements that bring a file of the version before each one up to it (`open_versioned`).
# 2: audio seconds are metered; the rows written before read 0, which they were.
# 3: energy and emissions are estimated; the rows written before read 0 (nothing was estimated).
_MIGRATIONS = {
    2: "ALTER TABLE usage_records ADD COLUMN audio_seconds INTEGER NOT NULL DEFAULT 0",
    3: """
ALTER TABLE usage_records ADD COLUMN energy_wh REAL NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN emissions_gco2eq REAL NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN energy_micro_wh INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN emissions_micro_g INTEGER NOT NULL DEFAULT 0;
""",
}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage_records (
    id                 INTEGER PRIMARY KEY,
    time               REAL NOT NULL,
    request_id         TEXT NOT NULL,
    department         TEXT NOT NULL,
    service            TEXT NOT NULL,
    key_id             TEXT NOT NULL,
    model              TEXT NOT NULL,
    backend            TEXT NOT NULL,
    operation          TEXT NOT NULL,
    prompt_tokens      INTEGER NOT NULL,
    completion_tokens  INTEGER NOT NULL,
    cached_tokens      INTEGER NOT NULL,
    weighted_cost      INTEGER NOT NULL,
    cost_eur           REAL NOT NULL,
    cost_micro_eur     INTEGER NOT NULL,
    latency_ms         REAL NOT NULL,
    status             INTEGER NOT NULL,
    trace_id           TEXT,
    audio_seconds      INTEGER NOT NULL DEFAULT 0,
    energy_wh          REAL NOT NULL DEFAULT 0,
    emissions_gco2eq   REAL NOT NULL DEFAULT 0,
    energy_micro_wh    INTEGER NOT NULL DEFAULT 0,
    emissions_micro_g  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS usage_records_time ON usage_records (time);
CREATE INDEX IF NOT EXISTS usage_records_department ON usage_records (department, time);
CREATE TABLE IF NOT EXISTS usage_batches (
    id       TEXT PRIMARY KEY,
    written  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_batches_written ON usage_batches (written);
"""
# Written out whole rather than assembled, so that no statement is ever built from strings.
# The columns follow `METERED_FIELDS`, then the cost, energy and emissions in millionths.
_INSERT = """
INSERT INTO usage_records (
    time, request_id, department, service, key_id, model, backend, operation, prompt_tokens,
    completion_tokens, cached_tokens, weighted_cost, cost_eur, latency_ms, status, trace_id, audio_seconds,
    energy_wh, emissions_gco2eq, cost_micro_eur, energy_micro_wh, emissions_micro_g
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
# Unqualified names find the temp schema first: the queries read these views instead of the table.
_OLDER_VIEWS = {
    1: "CREATE TEMP VIEW usage_records AS SELECT *, 0 AS audio_seconds, 0.0 AS energy_wh, "
    "0.0 AS emissions_gco2eq, 0 AS energy_micro_wh, 0 AS emissions_micro_g FROM main.usage_records",
    2: "CREATE TEMP VIEW usage_records AS SELECT *, 0.0 AS energy_wh, 0.0 AS emissions_gco2eq, "
    "0 AS energy_micro_wh, 0 AS emissions_micro_g FROM main.usage_records",
}
_HAS_RECORDS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'usage_records'"
_CLAIM_BATCH = "INSERT INTO usage_batches (id, written) VALUES (?, ?)"
_FORGET_BATCHES = "DELETE FROM usage_batches WHERE written < ?"
_CELLS_ALL = """
SELECT department, service, model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens),
    SUM(weighted_cost), SUM(cost_micro_eur), SUM(audio_seconds), SUM(energy_micro_wh), SUM(emissions_micro_g)
FROM usage_records WHERE time >= ? AND time < ? GROUP BY department, service, model
"""
_CELLS_DEPARTMENT = """
SELECT department, service, model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens),
    SUM(weighted_cost), SUM(cost_micro_eur), SUM(audio_seconds), SUM(energy_micro_wh), SUM(emissions_micro_g)
FROM usage_records WHERE department = ? AND time >= ? AND time < ? GROUP BY department, service, model
"""
_PAGE_ALL = """
SELECT id, time, request_id, department, service, key_id, model, backend, operation, prompt_tokens,
    completion_tokens, cached_tokens, weighted_cost, cost_eur, latency_ms, status, trace_id, audio_seconds,
    energy_wh, emissions_gco2eq
FROM usage_records WHERE time >= ? AND time < ? AND id > ? ORDER BY id LIMIT ?
"""
_PAGE_DEPARTMENT = """
SELECT id, time, request_id, department, service, key_id, model, backend, operation, prompt_tokens,
    completion_tokens, cached_tokens, weighted_cost, cost_eur, latency_ms, status, trace_id, audio_seconds,
    energy_wh, emissions_gco2eq
FROM usage_records WHERE department = ? AND time >= ? AND time < ? AND id > ? ORDER BY id LIMIT ?
"""

_BATCH_MEMORY = 86_400.0  # seconds a batch id is remembered: retries come within seconds
_PAGE = 1000


def _row(record: RequestRecord) -> tuple[Any, ...]:
    return (
        *read_metered(record),
        micro_euros(record.cost_eur),
        micro_units(record.energy_wh),
        micro_units(record.emissions_gco2eq),
    )


def _record(row: Sequence[Any]) -> RequestRecord:
    return RequestRecord(**dict(zip(METERED_FIELDS, row, strict=True)))


class EmbeddedUsageStore(UsageStore):
    """Usage in a SQLite file. Open with `await EmbeddedUsageStore.open(path)`."""

    def __init__(self, path: Path, calendar: Calendar) -> None:
        self.path = path
        self.calendar = calendar
        # Writes and reports on threads of their own: a long report never delays a batch.
        self._writer = SqliteThread("gateway-usage-write", UsageStoreError, f"usage store {path}")
        self._reader = SqliteThread("gateway-usage-read", UsageStoreError, f"usage store {path}")
        self._write_db: sqlite3.Connection | None = None
        self._read_db: sqlite3.Connection | None = None
        self._closed = False

    @classmethod
    async def open(
        cls, path: str | Path, *, timezone: str = DEFAULT_TIMEZONE, read_only: bool = False
    ) -> EmbeddedUsageStore:
        """Open the database at `path`, creating it (and its directory) if needed.

        `read_only=True` (reports, while a gateway may be writing): the file must exist and is never
        changed; `write` then fails."""
        store = cls(Path(path), Calendar(timezone))
        try:
            if read_only:
                await store._run(store._reader, store._connect_reader, True)
            else:
                await store._run(store._writer, store._connect_writer)
                await store._run(store._reader, store._connect_reader, False)
        except BaseException:
            await store.close()
            raise
        return store

    def __repr__(self) -> str:
        return f"EmbeddedUsageStore({str(self.path)!r})"

    # -- the store's threads ----------------------------------------------------------------------

    async def _run(self, thread: SqliteThread, function: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise UsageStoreError("the usage store is closed")
        return await thread.run(function, *args)

    def _connect_writer(self) -> None:
        # A batch is acknowledged (and dropped from the recorder's memory) once committed: it must
        # survive a power cut. One fsync per batch, i.e. a few per second at most.
        self._write_db = open_versioned(
            self.path, _SCHEMA, _SCHEMA_VERSION, UsageStoreError, synchronous="FULL", migrations=_MIGRATIONS
        )

    def _connect_reader(self, alone: bool) -> None:
        if alone and not self.path.exists():
            raise UsageStoreError(
                f"no usage database at {self.path}: nothing was recorded yet, or store.path differs"
            )
        # mode=rw: never create the file (the writer did, or it must exist already).
        uri = f"{self.path.resolve().as_uri()}?mode=rw"
        connection = sqlite3.connect(uri, uri=True, timeout=5.0, isolation_level=None)
        try:
            connection.execute("PRAGMA query_only=1")
            if alone:
                (version,) = connection.execute("PRAGMA user_version").fetchone()
                if connection.execute(_HAS_RECORDS).fetchone() is None:
                    raise UsageStoreError(f"{self.path} is not a usage database")
                if version > _SCHEMA_VERSION:
                    raise UsageStoreError(
                        f"{self.path} was written by a newer gateway (schema {version}); upgrade this one"
                    )
                if version < _SCHEMA_VERSION:
                    # A reader never changes the file (the upgrade is the writer's, on its next
                    # start): a view of this connection's own, in memory, adds the missing column.
                    connection.execute("PRAGMA query_only=0")
                    connection.execute(_OLDER_VIEWS[version])
                    connection.execute("PRAGMA query_only=1")
        except BaseException:
            connection.close()
            raise
        self._read_db = connection

    @staticmethod
    def _db(connection: sqlite3.Connection | None) -> sqlite3.Connection:
        if connection is None:
            raise UsageStoreError("the usage store is closed")
        return connection

    def _insert(self, batch_id: str, rows: list[tuple[Any, ...]]) -> None:
        db = self._db(self._write_db)
        now = clock.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            try:
                db.execute(_CLAIM_BATCH, (batch_id, now))
            except sqlite3.IntegrityError:
                db.execute("ROLLBACK")  # written before, by an attempt whose answer was lost
                return
            db.executemany(_INSERT, rows)
            db.execute(_FORGET_BATCHES, (now - _BATCH_MEMORY,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _sum_cells(self, period: Period, department: str | None) -> list[UsageCell]:
        db = self._db(self._read_db)
        cells: list[UsageCell] = []
        db.execute("BEGIN")  # one snapshot for every day of the month
        try:
            for day, start, end in period.day_ranges():
                if department is None:
                    rows = db.execute(_CELLS_ALL, (start, end)).fetchall()
                else:
                    rows = db.execute(_CELLS_DEPARTMENT, (department, start, end)).fetchall()
                cells.extend(
                    UsageCell(
                        department=row[0],
                        service=row[1],
                        model=row[2],
                        day=day,
                        requests=row[3],
                        prompt_tokens=row[4],
                        completion_tokens=row[5],
                        cached_tokens=row[6],
                        weighted_cost=row[7],
                        cost_micro_eur=row[8],
                        audio_seconds=row[9],
                        energy_micro_wh=row[10],
                        emissions_micro_g=row[11],
                    )
                    for row in rows
                )
        finally:
            db.execute("COMMIT")
        return cells

    def _page(self, period: Period, department: str | None, after: int) -> list[tuple[Any, ...]]:
        db = self._db(self._read_db)
        if department is None:
            cursor = db.execute(_PAGE_ALL, (period.start, period.end, after, _PAGE))
        else:
            cursor = db.execute(_PAGE_DEPARTMENT, (department, period.start, period.end, after, _PAGE))
        return cursor.fetchall()

    @staticmethod
    def _disconnect(connection: sqlite3.Connection | None) -> None:
        if connection is not None:
            connection.close()

    # -- UsageStore -------------------------------------------------------------------------------

    async def write(self, batch_id: str, records: Sequence[RequestRecord]) -> None:
        if self._write_db is None and not self._closed:
            raise UsageStoreError(f"usage store {self.path} was opened for reading only")
        if records:
            await self._run(self._writer, self._insert, batch_id, [_row(record) for record in records])

    async def cells(self, period: Period, department: str | None = None) -> list[UsageCell]:
        return await self._run(self._reader, self._sum_cells, period, department)

    async def records(self, period: Period, department: str | None = None) -> AsyncIterator[RequestRecord]:
        after = 0
        while True:
            rows = await self._run(self._reader, self._page, period, department, after)
            for row in rows:
                yield _record(row[1:])
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    async def close(self) -> None:
        if self._closed:
            return
        for thread, connection in ((self._writer, "_write_db"), (self._reader, "_read_db")):
            with contextlib.suppress(UsageStoreError):
                await self._run(thread, self._disconnect, getattr(self, connection))
            setattr(self, connection, None)
        self._closed = True
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)
