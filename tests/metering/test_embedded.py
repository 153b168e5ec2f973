"""What only the embedded store has: its file, its permissions, reading while a gateway writes."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from gateway.identity import EmbeddedKeyStore
from gateway.metering import EmbeddedUsageStore, UsageStoreError
from tests.metering.conftest import NOVEMBER_START, make_record, read_all


@pytest.mark.asyncio
async def test_the_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "data" / "gateway.usage.db"
    store = await EmbeddedUsageStore.open(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_report_reads_while_the_gateway_writes_and_never_writes_itself(tmp_path: Path) -> None:
    path = tmp_path / "gateway.usage.db"
    with pytest.raises(UsageStoreError, match="no usage database"):
        await EmbeddedUsageStore.open(path, read_only=True)
    assert not path.exists()

    writer = await EmbeddedUsageStore.open(path)
    reader = await EmbeddedUsageStore.open(path, read_only=True)
    try:
        await writer.write("batch-1", [make_record(NOVEMBER_START + 1)])
        assert len(await read_all(reader, "2026-11")) == 1
        await writer.write("batch-2", [make_record(NOVEMBER_START + 2)])  # the reader holds no lock
        assert len(await read_all(reader, "2026-11")) == 2
        with pytest.raises(UsageStoreError, match="reading only"):
            await reader.write("batch-3", [make_record(NOVEMBER_START + 3)])
    finally:
        await reader.close()
        await writer.close()
    with pytest.raises(UsageStoreError, match="closed"):
        await writer.write("batch-4", [make_record(NOVEMBER_START + 4)])


@pytest.mark.asyncio
async def test_another_sqlite_file_is_not_taken_for_a_usage_database(tmp_path: Path) -> None:
    keys = await EmbeddedKeyStore.open(tmp_path / "gateway.db")
    await keys.close()
    with pytest.raises(UsageStoreError, match="not a usage database"):
        await EmbeddedUsageStore.open(tmp_path / "gateway.db", read_only=True)


@pytest.mark.asyncio
async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gateway.usage.db"
    await (await EmbeddedUsageStore.open(path)).close()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(UsageStoreError, match="newer gateway"):
        await EmbeddedUsageStore.open(path)
