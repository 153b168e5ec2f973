"""The embedded key store: one SQLite table in a local file, nothing to install.

sqlite3 blocks, so every call runs on one dedicated thread that owns the connection (SQLite
connections must stay on their thread); the event loop only awaits it. WAL mode lets `gateway keys`
in another process write while the server reads.

Changes made by another process (an operator revoking a key from the command line) are found by
polling: every write that matters to caches (create, revoke) gives the row the next `version`, and
the subscriber asks twice a second for rows with a version above the last it saw, an indexed query
that usually returns nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from gateway.identity.errors import DuplicateKeyId, KeyStoreError
from gateway.identity.records import KeyRecord
from gateway.identity.store import ChangeCallback, KeyRecords, KeyStore
from gateway.storage.sqlite import SqliteThread, open_versioned

__all__ = ["EmbeddedKeyStore"]

logger = logging.getLogger("gateway.identity")

T = TypeVar("T")

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id          TEXT PRIMARY KEY,
    prefix      TEXT NOT NULL,
    hash        TEXT NOT NULL,
    department  TEXT NOT NULL,
    service     TEXT NOT NULL,
    roles       TEXT NOT NULL,
    label       TEXT NOT NULL DEFAULT '',
    created     INTEGER NOT NULL,
    expires     INTEGER,
    revoked     INTEGER,
    last_used   INTEGER,
    version     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_department ON api_keys (department, created);
CREATE INDEX IF NOT EXISTS api_keys_version ON api_keys (version);
CREATE TABLE IF NOT EXISTS ended_sessions (
    id          TEXT PRIMARY KEY,
    until       INTEGER NOT NULL
);
"""
# ended_sessions came later without a version change: an older gateway ignores a table it does not
# know, so a file may still go back to it.
# Written out whole rather than assembled, so that no statement is ever built from strings.
# `version` orders the changes that caches must hear about: each create or revoke takes the next one.
_INSERT = """
INSERT INTO api_keys
    (id, prefix, hash, department, service, roles, label, created, expires, revoked, last_used, version)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(version), 0) + 1 FROM api_keys))
"""
_SELECT_ONE = """
SELECT id, prefix, hash, department, service, roles, label, created, expires, revoked, last_used
FROM api_keys WHERE id = ?
"""
_SELECT_ALL = """
SELECT id, prefix, hash, department, service, roles, label, created, expires, revoked, last_used
FROM api_keys ORDER BY created, id
"""
_SELECT_DEPARTMENT = """
SELECT id, prefix, hash, department, service, roles, label, created, expires, revoked, last_used
FROM api_keys WHERE department = ? ORDER BY created, id
"""
_REVOKE = """
UPDATE api_keys SET revoked = ?, version = (SELECT COALESCE(MAX(version), 0) + 1 FROM api_keys)
WHERE id = ? AND revoked IS NULL
"""
_TOUCH = "UPDATE api_keys SET last_used = ? WHERE id = ? AND (last_used IS NULL OR last_used < ?)"
_LATEST_VERSION = "SELECT COALESCE(MAX(version), 0) FROM api_keys"
_CHANGES_SINCE = "SELECT id, version FROM api_keys WHERE version > ? ORDER BY version"
_END_SESSION = "INSERT OR REPLACE INTO ended_sessions (id, until) VALUES (?, ?)"
_FORGET_SESSIONS = "DELETE FROM ended_sessions WHERE until <= ?"
_SESSION_ENDED = "SELECT 1 FROM ended_sessions WHERE id = ? AND until > ?"

_encode_roles = msgspec.json.Encoder().encode
_decode_roles = msgspec.json.Decoder(tuple[str, ...]).decode


def _record(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(
        id=row[0],
        prefix=row[1],
        hash=row[2],
        department=row[3],
        service=row[4],
        roles=_decode_roles(row[5]),
        label=row[6],
        created=row[7],
        expires=row[8],
        revoked=row[9],
        last_used=row[10],
    )


class EmbeddedKeyStore(KeyStore):
    """Keys in a SQLite file. Open with `await EmbeddedKeyStore.open(path)`."""

    def __init__(self, path: Path, *, poll_interval: float = 0.5) -> None:
        self.path = path
        self._poll_interval = poll_interval
        self._thread = SqliteThread("gateway-keys", KeyStoreError, f"key store {path}")
        self._connection: sqlite3.Connection | None = None
        self._callbacks: list[ChangeCallback] = []
        self._poller: asyncio.Task[None] | None = None
        self._live = False
        self._closed = False

    @classmethod
    async def open(cls, path: str | Path, *, poll_interval: float = 0.5) -> EmbeddedKeyStore:
        """Open (creating it and its directory if needed) the database at `path`."""
        store = cls(Path(path), poll_interval=poll_interval)
        try:
            await store._run(store._connect)
        except BaseException:
            store._thread.shutdown(wait=False)
            raise
        return store

    def __repr__(self) -> str:
        return f"EmbeddedKeyStore({str(self.path)!r})"

    # -- the store's thread ---------------------------------------------------------------------

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise KeyStoreError("the key store is closed")
        return await self._thread.run(function, *args)

    def _connect(self) -> None:
        # A revocation that a power cut could undo is not a revocation: synchronous=FULL.
        self._connection = open_versioned(
            self.path, _SCHEMA, _SCHEMA_VERSION, KeyStoreError, synchronous="FULL"
        )

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise KeyStoreError("the key store is closed")
        return self._connection

    def _insert(self, record: KeyRecord) -> None:
        roles = _encode_roles(record.roles).decode("utf-8")
        try:
            self._db.execute(
                _INSERT,
                (
                    record.id,
                    record.prefix,
                    record.hash,
                    record.department,
                    record.service,
                    roles,
                    record.label,
                    record.created,
                    record.expires,
                    record.revoked,
                    record.last_used,
                ),
            )
        except sqlite3.IntegrityError:
            raise DuplicateKeyId(f"a key with id {record.id} already exists") from None

    def _select_one(self, key_id: str) -> KeyRecord | None:
        row = self._db.execute(_SELECT_ONE, (key_id,)).fetchone()
        return None if row is None else _record(row)

    def _select_many(self, department: str | None) -> KeyRecords:
        if department is None:
            cursor = self._db.execute(_SELECT_ALL)
        else:
            cursor = self._db.execute(_SELECT_DEPARTMENT, (department,))
        return [_record(row) for row in cursor.fetchall()]

    def _mark_revoked(self, key_id: str, at: int) -> bool:
        return self._db.execute(_REVOKE, (at, key_id)).rowcount == 1

    def _mark_used(self, key_id: str, when: int) -> None:
        self._db.execute(_TOUCH, (when, key_id, when))

    def _latest_version(self) -> int:
        (version,) = self._db.execute(_LATEST_VERSION).fetchone()
        return int(version)

    def _changes_since(self, version: int) -> list[tuple[str, int]]:
        rows = self._db.execute(_CHANGES_SINCE, (version,)).fetchall()
        return [(str(key_id), int(seen)) for key_id, seen in rows]

    def _insert_ended_session(self, session_id: str, until: int, now: int) -> None:
        # Sign-outs are rare: dropping the sessions past their expiry here keeps the table small.
        self._db.execute(_FORGET_SESSIONS, (now,))
        self._db.execute(_END_SESSION, (session_id, until))

    def _select_ended_session(self, session_id: str, now: int) -> bool:
        return self._db.execute(_SESSION_ENDED, (session_id, now)).fetchone() is not None

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- KeyStore ---------------------------------------------------------------------------------

    async def create(self, record: KeyRecord) -> None:
        await self._run(self._insert, record)
        self._notify(record.id)

    async def get(self, key_id: str) -> KeyRecord | None:
        return await self._run(self._select_one, key_id)

    async def list(self, department: str | None = None) -> KeyRecords:
        return await self._run(self._select_many, department)

    async def revoke(self, key_id: str, at: int) -> bool:
        revoked = await self._run(self._mark_revoked, key_id, at)
        if revoked:
            self._notify(key_id)
        return revoked

    async def touch(self, key_id: str, when: int) -> None:
        await self._run(self._mark_used, key_id, when)

    async def end_session(self, session_id: str, until: int) -> None:
        await self._run(self._insert_ended_session, session_id, until, int(time.time()))

    async def session_ended(self, session_id: str) -> bool:
        return await self._run(self._select_ended_session, session_id, int(time.time()))

    async def subscribe_changes(self, callback: ChangeCallback) -> None:
        self._callbacks.append(callback)
        if self._poller is None:
            version = await self._run(self._latest_version)
            self._live = True
            self._poller = asyncio.create_task(self._poll(version), name="gateway-key-changes")

    @property
    def changes_live(self) -> bool:
        return self._live

    async def close(self) -> None:
        if self._closed:
            return
        self._live = False
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        with contextlib.suppress(KeyStoreError):
            await self._run(self._disconnect)
        self._closed = True
        self._thread.shutdown(wait=True)

    # -- change notification ----------------------------------------------------------------------

    def _notify(self, key_id: str | None) -> None:
        for callback in self._callbacks:
            try:
                callback(key_id)
            except Exception:
                logger.exception("a key change subscriber failed")

    async def _poll(self, version: int) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                changes = await self._run(self._changes_since, version)
            except KeyStoreError as exc:
                if self._live:
                    logger.warning("cannot poll %s for key changes, caches disabled: %s", self.path, exc)
                    self._live = False
                    self._notify(None)
                continue
            if not self._live:
                logger.warning("polling %s for key changes again", self.path)
                self._live = True
                self._notify(None)
            for key_id, seen in changes:
                version = max(version, seen)
                self._notify(key_id)
