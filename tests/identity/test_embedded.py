"""What only the embedded store has: a file, its permissions, and another process's writes."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from gateway.identity import EmbeddedKeyStore, KeyStoreError, Pepper, create_key


@pytest.mark.asyncio
async def test_file_is_created_private_in_wal_mode(tmp_path: Path, pepper: Pepper) -> None:
    path = tmp_path / "new" / "dir" / "gateway.db"
    store = await EmbeddedKeyStore.open(path)
    try:
        await create_key(store, pepper, "dgfip", "chatbot")
    finally:
        await store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("SELECT count(*) FROM api_keys").fetchone() == (1,)
    connection.close()


@pytest.mark.asyncio
async def test_a_database_from_a_newer_gateway_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version = 99")
    connection.commit()
    connection.close()
    with pytest.raises(KeyStoreError, match="newer gateway"):
        await EmbeddedKeyStore.open(path)


@pytest.mark.asyncio
async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = await EmbeddedKeyStore.open(tmp_path / "gateway.db")
    await store.close()
    with pytest.raises(KeyStoreError, match="closed"):
        await store.get("abcdefghijkl")


@pytest.mark.asyncio
async def test_unusable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(KeyStoreError, match="cannot create the directory"):
        await EmbeddedKeyStore.open(blocker / "gateway.db")
