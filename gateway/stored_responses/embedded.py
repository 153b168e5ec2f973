"""Response homes in a SQLite file of their own, next to the keys' database (single node)."""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from gateway.storage.sqlite import SqliteThread, open_versioned
from gateway.stored_responses.errors import ResponseStoreUnavailable
from gateway.stored_responses.homes import ResponseHome, decode_home, encode_home

__all__ = ["EmbeddedResponseHomes"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS response_homes (
    id TEXT PRIMARY KEY,
    home BLOB NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS response_homes_expiry ON response_homes (expires)
"""
_VERSION = 1
# Expired rows are deleted every this many records, so that the file stops growing without a timer,
# and once when the file is opened: a process restarted before its thousandth record purges too.
_PURGE_EVERY = 1000


class _Unavailable(Exception):
    pass


class EmbeddedResponseHomes:
    __slots__ = ("_connection", "_recorded", "_thread")

    def __init__(self, connection: sqlite3.Connection, thread: SqliteThread) -> None:
        self._connection = connection
        self._thread = thread
        self._recorded = 0

    @classmethod
    async def open(cls, path: Path) -> EmbeddedResponseHomes:
        thread = SqliteThread("response-homes", _Unavailable, f"response homes in {path}")
        try:
            # NORMAL: a crash may lose the last records, which only makes those responses unknown.
            connection = await thread.run(
                functools.partial(open_versioned, synchronous="NORMAL"), path, _SCHEMA, _VERSION, _Unavailable
            )
        except _Unavailable as exc:
            thread.shutdown(wait=False)
            raise ResponseStoreUnavailable() from exc
        homes = cls(connection, thread)
        try:
            await homes._run(homes._purge)
        except BaseException:
            await homes.close()
            raise
        return homes

    async def record(self, response_id: str, home: ResponseHome, ttl: int) -> None:
        self._recorded += 1
        purge = self._recorded % _PURGE_EVERY == 0
        await self._run(self._record, response_id, encode_home(home), time.time() + ttl, purge)

    def _record(self, response_id: str, home: bytes, expires: float, purge: bool) -> None:
        self._connection.execute(
            "INSERT OR REPLACE INTO response_homes (id, home, expires) VALUES (?, ?, ?)",
            (response_id, home, expires),
        )
        if purge:
            self._purge()

    def _purge(self) -> None:
        # The expiry index makes this a range delete, however many rows are still alive.
        self._connection.execute("DELETE FROM response_homes WHERE expires <= ?", (time.time(),))

    async def find(self, response_id: str) -> ResponseHome | None:
        raw = await self._run(self._find, response_id)
        return decode_home(raw) if raw is not None else None

    def _find(self, response_id: str) -> bytes | None:
        row = self._connection.execute(
            "SELECT home FROM response_homes WHERE id = ? AND expires > ?", (response_id, time.time())
        ).fetchone()
        return bytes(row[0]) if row is not None else None

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        try:
            return await self._thread.run(function, *args)
        except _Unavailable as exc:
            raise ResponseStoreUnavailable() from exc

    async def close(self) -> None:
        await self._thread.run(self._connection.close)
        self._thread.shutdown(wait=True)
