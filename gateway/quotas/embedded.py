"""The embedded ledger: budgets in SQLite tables, one transaction per reserve, settle or release.

It shares the database file of the embedded store (`store.path`) with the keys, in tables of its
own (`quota_*`, versioned in `quota_meta`, never through `PRAGMA user_version`, which the key store
uses). Like the key store, it runs every call on one dedicated thread that owns the connection.

    quota_counters      calendar budgets: one row per counter and period (`dgfip|s:svc:tokd|2026-11-03`)
    quota_buckets       rolling minutes: one row per counter and 5-second bucket
    quota_slots         concurrency: one row per counter and reservation holding a slot
    quota_reservations  every reservation, its state (R reserved, S settled, L released, X expired
                        and given back) and its counters; kept a day after its expiry, so that a late
                        or repeated settle is recognised

Durability: WAL with `synchronous=NORMAL`, so a commit survives a crash of the gateway process (budgets
survive restarts); a power cut may lose the last commits. `FULL` would cost an fsync per request.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from gateway.quotas.errors import QuotaStoreError
from gateway.quotas.ledger import (
    COUNTER_GRACE_MS,
    RECORD_KEEP_MS,
    Ledger,
    Outcome,
    Reservation,
    Settlement,
    empty_reservation,
    outcome_of,
)
from gateway.quotas.periods import bucket_of, oldest_bucket, window_reset_ms
from gateway.quotas.plan import Plan
from gateway.storage.sqlite import SqliteThread, connect_private, run_schema

__all__ = ["EmbeddedLedger"]

T = TypeVar("T")

SWEEP_BATCH = 100
"""Expired reservations given back per transaction at most (the next ones take the rest)."""
HOUSEKEEPING_MS = 60_000
"""Interval between deletions of rows that no longer count."""

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS quota_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quota_counters (
    key     TEXT PRIMARY KEY,
    value   INTEGER NOT NULL,
    expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quota_buckets (
    key     TEXT NOT NULL,
    bucket  INTEGER NOT NULL,
    value   INTEGER NOT NULL,
    PRIMARY KEY (key, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quota_slots (
    key     TEXT NOT NULL,
    id      TEXT NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (key, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quota_reservations (
    id          TEXT PRIMARY KEY,
    department  TEXT NOT NULL,
    state       TEXT NOT NULL,
    expires     INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    counters    TEXT NOT NULL,
    forget      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS quota_reservations_open ON quota_reservations (expires) WHERE state = 'R';
CREATE INDEX IF NOT EXISTS quota_reservations_department ON quota_reservations (department)
    WHERE state = 'R';
"""
_GET_COUNTER = "SELECT value FROM quota_counters WHERE key = ?"
_ADD_COUNTER = """
INSERT INTO quota_counters (key, value, expires) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = value + excluded.value, expires = max(expires, excluded.expires)
"""
_SEED_COUNTER = """
INSERT INTO quota_counters (key, value, expires) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value), expires = max(expires, excluded.expires)
"""
_TAKE_COUNTER = "UPDATE quota_counters SET value = value - ? WHERE key = ?"
_GET_BUCKETS = "SELECT bucket, value FROM quota_buckets WHERE key = ? AND bucket >= ? ORDER BY bucket"
_ADD_BUCKET = """
INSERT INTO quota_buckets (key, bucket, value) VALUES (?, ?, ?)
ON CONFLICT (key, bucket) DO UPDATE SET value = value + excluded.value
"""
_TAKE_BUCKET = "UPDATE quota_buckets SET value = value - ? WHERE key = ? AND bucket = ?"
_DROP_EXPIRED_SLOTS = "DELETE FROM quota_slots WHERE key = ? AND expires <= ?"
_COUNT_SLOTS = "SELECT COUNT(*) FROM quota_slots WHERE key = ?"
_ADD_SLOT = "INSERT OR REPLACE INTO quota_slots (key, id, expires) VALUES (?, ?, ?)"
_DROP_SLOT = "DELETE FROM quota_slots WHERE key = ? AND id = ?"
_INSERT_RESERVATION = """
INSERT INTO quota_reservations (id, department, state, expires, bucket, counters, forget)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
_RESERVATION_STATE = "SELECT state FROM quota_reservations WHERE id = ?"
# A finished or swept reservation keeps only its state: its counters are no longer needed.
_SET_STATE = "UPDATE quota_reservations SET state = ?, counters = '[]' WHERE id = ?"
_EXPIRED = """
SELECT id, bucket, counters FROM quota_reservations
WHERE state = 'R' AND expires <= ? ORDER BY expires LIMIT ?
"""
_EXPIRED_OF = """
SELECT id, bucket, counters FROM quota_reservations
WHERE state = 'R' AND expires <= ? AND department = ? ORDER BY expires LIMIT ?
"""
_OUTSTANDING = "SELECT COUNT(*) FROM quota_reservations WHERE state = 'R'"
_OUTSTANDING_OF = "SELECT COUNT(*) FROM quota_reservations WHERE state = 'R' AND department = ?"
_HOUSEKEEPING = (
    "DELETE FROM quota_counters WHERE expires < ?",
    "DELETE FROM quota_slots WHERE expires <= ?",
    "DELETE FROM quota_reservations WHERE forget < ? AND state <> 'R'",
)
_DROP_OLD_BUCKETS = "DELETE FROM quota_buckets WHERE bucket < ?"

_StoredCounters = list[tuple[str, str, int]]
_CALENDAR = ("c", "e")  # calendar budgets: one integer per period, weighted tokens or micro-euros
_encode = msgspec.json.Encoder().encode
_decode_counters = msgspec.json.Decoder(_StoredCounters).decode


class EmbeddedLedger(Ledger):
    """Budgets in a SQLite file (or in memory). Open with `await EmbeddedLedger.open(path)`."""

    def __init__(
        self,
        path: Path | None,
        *,
        reservation_ttl: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.reservation_ttl = reservation_ttl
        self._ttl_ms = int(reservation_ttl * 1000)
        self._clock = clock
        self._thread = SqliteThread("gateway-quotas", QuotaStoreError, f"quota ledger {path or ':memory:'}")
        self._connection: sqlite3.Connection | None = None
        self._next_housekeeping = 0
        self._closed = False

    @classmethod
    async def open(
        cls, path: str | Path, *, reservation_ttl: float = 900.0, clock: Callable[[], float] = time.time
    ) -> EmbeddedLedger:
        """Open (creating them if needed) the quota tables of the database at `path`."""
        return await cls._opened(cls(Path(path), reservation_ttl=reservation_ttl, clock=clock))

    @classmethod
    async def in_memory(
        cls, *, reservation_ttl: float = 900.0, clock: Callable[[], float] = time.time
    ) -> EmbeddedLedger:
        """A ledger that lives as long as this object: the local ledger of `fail_open`, and tests."""
        return await cls._opened(cls(None, reservation_ttl=reservation_ttl, clock=clock))

    @staticmethod
    async def _opened(ledger: EmbeddedLedger) -> EmbeddedLedger:
        try:
            await ledger._run(ledger._connect)
        except BaseException:
            ledger._thread.shutdown(wait=False)
            raise
        return ledger

    def __repr__(self) -> str:
        return f"EmbeddedLedger({str(self.path) if self.path else ':memory:'!r})"

    # -- the ledger's thread ----------------------------------------------------------------------

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise QuotaStoreError("the quota ledger is closed")
        return await self._thread.run(function, *args)

    def _connect(self) -> None:
        if self.path is None:
            connection = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        else:
            connection = connect_private(self.path, QuotaStoreError, synchronous="NORMAL")
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS quota_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) "
                "WITHOUT ROWID"
            )
            row = connection.execute("SELECT value FROM quota_meta WHERE name = 'schema'").fetchone()
            if row is not None and row[0] > _SCHEMA_VERSION:
                raise QuotaStoreError(
                    f"the quota tables of {self.path} were written by a newer gateway (schema {row[0]}); "
                    "upgrade this one"
                )
            run_schema(connection, _SCHEMA)
            connection.execute(
                "INSERT OR REPLACE INTO quota_meta (name, value) VALUES ('schema', ?)", (_SCHEMA_VERSION,)
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise QuotaStoreError("the quota ledger is closed")
        return self._connection

    async def _in_transaction(self, body: Callable[[sqlite3.Connection], T]) -> T:
        """Run `body` in one transaction on the ledger's thread."""

        def call() -> T:
            return self._transaction(body)

        return await self._run(call)

    def _transaction(self, body: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            result = body(db)
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    # The counters of a reservation as stored: full key, code, amount.
    @staticmethod
    def _stored(reservation_department: str, plan_or_reservation: Plan | Reservation) -> _StoredCounters:
        return [
            (f"{reservation_department}|{counter.key}", counter.code, plan_or_reservation.amount_for(counter))
            for counter in plan_or_reservation.counters
        ]

    @staticmethod
    def _undo(
        db: sqlite3.Connection, counters: Sequence[tuple[str, str, int]], bucket: int, rid: str
    ) -> None:
        for key, code, amount in counters:
            if code in _CALENDAR:
                db.execute(_TAKE_COUNTER, (amount, key))
            elif code == "x":
                db.execute(_DROP_SLOT, (key, rid))
            else:
                db.execute(_TAKE_BUCKET, (amount, key, bucket))

    def _sweep_expired(self, db: sqlite3.Connection, now_ms: int, department: str | None) -> int:
        if department is None:
            rows = db.execute(_EXPIRED, (now_ms, SWEEP_BATCH)).fetchall()
        else:
            rows = db.execute(_EXPIRED_OF, (now_ms, department, SWEEP_BATCH)).fetchall()
        for rid, bucket, counters in rows:
            self._undo(db, _decode_counters(counters), bucket, rid)
            db.execute(_SET_STATE, ("X", rid))
        return len(rows)

    def _housekeeping(self, db: sqlite3.Connection, now_ms: int) -> None:
        if now_ms < self._next_housekeeping:
            return
        self._next_housekeeping = now_ms + HOUSEKEEPING_MS
        for statement in _HOUSEKEEPING:
            db.execute(statement, (now_ms,))
        db.execute(_DROP_OLD_BUCKETS, (oldest_bucket(bucket_of(now_ms)),))

    def _reserve_in(
        self, db: sqlite3.Connection, plan: Plan, rid: str, now_ms: int, dry: bool
    ) -> tuple[bool, tuple[int, ...], tuple[int, ...], int]:
        self._sweep_expired(db, now_ms, None)
        self._housekeeping(db, now_ms)
        bucket = bucket_of(now_ms)
        oldest = oldest_bucket(bucket)
        department = plan.department
        used: list[int] = []
        resets: list[int] = []
        refused = False
        for counter in plan.counters:
            key = f"{department}|{counter.key}"
            amount = plan.amount_for(counter)
            code = counter.code
            if code in _CALENDAR:
                row = db.execute(_GET_COUNTER, (key,)).fetchone()
                current = 0 if row is None else int(row[0])
                reset = int(counter.period_end * 1000) - now_ms
            elif code == "x":
                db.execute(_DROP_EXPIRED_SLOTS, (key, now_ms))
                current = int(db.execute(_COUNT_SLOTS, (key,)).fetchone()[0])
                reset = 1000
            else:
                rows = db.execute(_GET_BUCKETS, (key, oldest)).fetchall()
                current = sum(value for _, value in rows)
                reset = _window_reset(rows, max(1, current + amount - counter.limit), bucket, now_ms)
            if current + amount > counter.limit:
                refused = True
            used.append(current)
            resets.append(reset)
        if refused or dry:
            return refused, tuple(used), tuple(resets), bucket
        expires = now_ms + self._ttl_ms
        for index, counter in enumerate(plan.counters):
            key = f"{department}|{counter.key}"
            amount = plan.amount_for(counter)
            if counter.code in _CALENDAR:
                db.execute(_ADD_COUNTER, (key, amount, int(counter.period_end * 1000) + COUNTER_GRACE_MS))
            elif counter.code == "x":
                db.execute(_ADD_SLOT, (key, rid, expires))
            else:
                db.execute(_ADD_BUCKET, (key, bucket, amount))
            used[index] += amount
        db.execute(
            _INSERT_RESERVATION,
            (
                rid,
                department,
                "R",
                expires,
                bucket,
                _encode(self._stored(department, plan)),
                expires + RECORD_KEEP_MS,
            ),
        )
        return False, tuple(used), tuple(resets), bucket

    def _finish_in(
        self, db: sqlite3.Connection, reservation: Reservation, costs: tuple[int, int] | None, now_ms: int
    ) -> str:
        """Settle (`costs` given: weighted tokens, micro-euros) or release (`costs` None). Answers the
        state found: R, S, L, X or -."""
        rid = reservation.id
        row = db.execute(_RESERVATION_STATE, (rid,)).fetchone()
        state = "-" if row is None else str(row[0])
        if state in ("S", "L"):
            return state
        counters = self._stored(reservation.department, reservation)
        new_state = "L" if costs is None else "S"
        if state == "R":
            if costs is None:
                self._undo(db, counters, reservation.bucket, rid)
            else:
                cost, eur = costs
                for key, code, amount in counters:
                    if code == "c":
                        db.execute(_TAKE_COUNTER, (amount - cost, key))
                    elif code == "e":
                        db.execute(_TAKE_COUNTER, (amount - eur, key))
                    elif code == "t":
                        db.execute(_TAKE_BUCKET, (amount - cost, key, reservation.bucket))
                    elif code == "x":
                        db.execute(_DROP_SLOT, (key, rid))
        elif costs is not None:
            # Expired and given back (X), or unknown here (-): the usage happened, charge it once.
            cost, eur = costs
            in_window = reservation.bucket >= oldest_bucket(bucket_of(now_ms))
            for counter, (key, code, _) in zip(reservation.counters, counters, strict=True):
                if code in _CALENDAR:
                    charged = cost if code == "c" else eur
                    end = int(counter.period_end * 1000) + COUNTER_GRACE_MS
                    db.execute(_ADD_COUNTER, (key, charged, end))
                elif code == "t" and in_window:
                    db.execute(_ADD_BUCKET, (key, reservation.bucket, cost))
                elif code == "r" and in_window:
                    db.execute(_ADD_BUCKET, (key, reservation.bucket, 1))
        if row is None:
            db.execute(
                _INSERT_RESERVATION,
                (
                    rid,
                    reservation.department,
                    new_state,
                    now_ms,
                    reservation.bucket,
                    "[]",
                    now_ms + RECORD_KEEP_MS,
                ),
            )
        else:
            db.execute(_SET_STATE, (new_state, rid))
        return state

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- Ledger -----------------------------------------------------------------------------------

    async def reserve(self, plan: Plan) -> Outcome:
        now = self._clock()
        if not plan.counters:
            return empty_reservation(plan, now)
        if not plan.holds_at(now):
            plan = plan.at(now)
        rid = os.urandom(12).hex()
        now_ms = int(now * 1000)
        refused, used, resets, bucket = await self._in_transaction(
            lambda db: self._reserve_in(db, plan, rid, now_ms, False)
        )
        return outcome_of(
            plan,
            rid,
            refused=refused,
            used=used,
            resets_ms=resets,
            bucket=bucket,
            now=now_ms / 1000,
            ttl=self.reservation_ttl,
        )

    async def settle(
        self, reservation: Reservation, input_tokens: int, output_tokens: int, eur: int | None = None
    ) -> Settlement:
        if not reservation.id:
            return "settled"
        costs = reservation.costs(input_tokens, output_tokens, eur)
        now_ms = self._now_ms()
        state = await self._in_transaction(lambda db: self._finish_in(db, reservation, costs, now_ms))
        return "settled" if state == "R" else "late" if state in ("X", "-") else "duplicate"

    async def release(self, reservation: Reservation) -> bool:
        if not reservation.id:
            return False
        now_ms = self._now_ms()
        state = await self._in_transaction(lambda db: self._finish_in(db, reservation, None, now_ms))
        return state == "R"

    async def usage(self, plan: Plan) -> tuple[int, ...]:
        now = self._clock()
        if not plan.counters:
            return ()
        if not plan.holds_at(now):
            plan = plan.at(now)
        now_ms = int(now * 1000)
        _, used, _, _ = await self._in_transaction(lambda db: self._reserve_in(db, plan, "", now_ms, True))
        return used

    async def outstanding(self, department: str | None = None) -> int:
        def count() -> int:
            if department is None:
                return int(self._db.execute(_OUTSTANDING).fetchone()[0])
            return int(self._db.execute(_OUTSTANDING_OF, (department,)).fetchone()[0])

        return await self._run(count)

    async def sweep(self, department: str | None = None) -> int:
        now_ms = self._now_ms()
        total = 0
        while True:
            swept = await self._in_transaction(lambda db: self._sweep_expired(db, now_ms, department))
            total += swept
            if swept < SWEEP_BATCH:
                return total

    async def seed(self, department: str, usage: dict[str, tuple[int, float]]) -> None:
        """Raise calendar counters (by counter key: usage, period end) to at least the given usage:
        how the local ledger of `fail_open` starts from the last usage seen in the store."""
        rows = [
            (f"{department}|{key}", used, int(period_end * 1000) + COUNTER_GRACE_MS)
            for key, (used, period_end) in usage.items()
        ]

        def write(db: sqlite3.Connection) -> None:
            db.executemany(_SEED_COUNTER, rows)

        await self._in_transaction(write)

    async def ping(self) -> None:
        await self._run(lambda: self._db.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        if self._closed:
            return

        def disconnect() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        with contextlib.suppress(QuotaStoreError):
            await self._run(disconnect)
        self._closed = True
        self._thread.shutdown(wait=True)


def _window_reset(rows: Sequence[tuple[int, int]], need: int, bucket: int, now_ms: int) -> int:
    """Milliseconds until `need` of the rolling minute's usage (in `rows`, oldest first) stops counting;
    -1 if it never can (more is needed than is counted). With nothing counted, the current bucket's."""
    freed = 0
    for row_bucket, value in rows:
        if value > 0:
            freed += value
            if freed >= need:
                return window_reset_ms(row_bucket, now_ms)
    return window_reset_ms(bucket, now_ms) if freed == 0 and need <= 1 else -1
