"""What every embedded (SQLite) store does the same way: a private file, a thread of its own.

sqlite3 connections must stay on the thread that uses them and their calls block, so each store
runs its connection on a single-thread executor and awaits it from the event loop; SQLite's errors
become the store's own error type at that one boundary.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["SqliteThread", "connect_private", "open_versioned", "run_schema"]

T = TypeVar("T")


class SqliteThread:
    """One thread for one store's connection(s); `run` awaits a call made on it."""

    __slots__ = ("_describe", "_error", "_executor")

    def __init__(self, name: str, error: type[Exception], describe: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._error = error
        self._describe = describe

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(function, *args))
        except sqlite3.Error as exc:
            raise self._error(f"{self._describe}: {exc}") from exc

    def shutdown(self, *, wait: bool) -> None:
        self._executor.shutdown(wait=wait)


def connect_private(path: Path, error: type[Exception], *, synchronous: str) -> sqlite3.Connection:
    """Open (creating it and its folder if needed) a database only this user may read, in WAL mode.

    `isolation_level=None`: every statement commits on its own unless a BEGIN opens a transaction.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise error(f"cannot create the directory of {path}: {exc.strerror}") from None
    existed = path.exists()
    connection = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    try:
        if not existed:
            # Key hashes, budgets, usage: not secrets, still nobody else's business on this host.
            path.chmod(0o600)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={synchronous}")
    except BaseException:
        connection.close()
        raise
    return connection


def run_schema(connection: sqlite3.Connection, schema: str) -> None:
    """Run `schema`'s statements inside the caller's open transaction (executescript would commit it)."""
    for statement in filter(str.strip, schema.split(";")):
        connection.execute(statement)


def open_versioned(
    path: Path,
    schema: str,
    version: int,
    error: type[Exception],
    *,
    synchronous: str,
    migrations: Mapping[int, str] | None = None,
) -> sqlite3.Connection:
    """`connect_private`, then create or update the tables of a store that owns its file, its schema
    version kept in `PRAGMA user_version`. A file written by a newer gateway is refused, not guessed at.

    `schema` is the latest version's, every statement `IF NOT EXISTS`: a new file gets it whole. A file
    of an older version first gets `migrations[n]` for each version n above its own (the statements that
    turn version n - 1 into n, e.g. an `ALTER TABLE ... ADD COLUMN`), in the same transaction, so a
    failed upgrade leaves the file as it was."""
    connection = connect_private(path, error, synchronous=synchronous)
    try:
        connection.execute("BEGIN IMMEDIATE")
        (found,) = connection.execute("PRAGMA user_version").fetchone()
        if found > version:
            raise error(f"{path} was written by a newer gateway (schema {found}); upgrade this one")
        if found > 0:  # 0: a new file, which the schema creates as it is now
            for step in range(found + 1, version + 1):
                run_schema(connection, (migrations or {}).get(step, ""))
        run_schema(connection, schema)
        connection.execute(f"PRAGMA user_version = {version}")
        connection.execute("COMMIT")
    except BaseException:
        connection.close()
        raise
    return connection
