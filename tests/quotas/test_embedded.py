"""What only the embedded ledger has: a file shared with the key store, that survives restarts."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from gateway.identity import EmbeddedKeyStore, Pepper, create_key
from gateway.quotas import EmbeddedLedger, QuotaStoreError
from tests.quotas.conftest import FakeClock, plan, planner, refused, reserved

pytestmark = pytest.mark.asyncio


async def test_budgets_survive_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "gateway.db"
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 1000, "max_concurrent": 2}})
    ledger = await EmbeddedLedger.open(path, clock=clock)
    await ledger.settle(reserved(await ledger.reserve(plan(quotas, clock()))), 100, 200)
    in_progress = reserved(await ledger.reserve(plan(quotas, clock())))
    await ledger.close()

    reopened = await EmbeddedLedger.open(path, clock=clock)
    try:
        assert await reopened.usage(plan(quotas, clock())) == (800, 1)
        assert await reopened.outstanding() == 1
        refused(await reopened.reserve(plan(quotas, clock())))  # 800 + 500 > 1000
        # The request that was in progress when the gateway stopped settles after the restart.
        assert await reopened.settle(in_progress, 100, 0) == "settled"
        assert await reopened.usage(plan(quotas, clock())) == (400, 0)
        assert await reopened.outstanding() == 0
    finally:
        await reopened.close()


async def test_shares_the_key_stores_file(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "data" / "gateway.db"
    keys = await EmbeddedKeyStore.open(path)
    ledger = await EmbeddedLedger.open(path, clock=clock)
    try:
        await create_key(keys, Pepper(b"p" * 32), "dgfip", "svc")
        quotas = planner(services={"dgfip/svc": {"tokens_per_day": 1000}})
        await ledger.settle(reserved(await ledger.reserve(plan(quotas, clock()))), 1, 2)
        assert len(await keys.list()) == 1
    finally:
        await ledger.close()
        await keys.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        # The key store's schema version is left alone: the ledger versions its tables apart.
        assert connection.execute("PRAGMA user_version").fetchone() == (1,)
        assert connection.execute("SELECT value FROM quota_meta WHERE name = 'schema'").fetchone() == (1,)
        assert connection.execute("SELECT value FROM quota_counters").fetchall() == [(3,)]
    connection.close()


async def test_refuses_tables_written_by_a_newer_gateway(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    await (await EmbeddedLedger.open(path)).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE quota_meta SET value = 99 WHERE name = 'schema'")
    connection.close()
    with pytest.raises(QuotaStoreError, match="newer gateway"):
        await EmbeddedLedger.open(path)


async def test_a_closed_ledger_raises_store_errors(tmp_path: Path, clock: FakeClock) -> None:
    ledger = await EmbeddedLedger.open(tmp_path / "gateway.db", clock=clock)
    await ledger.close()
    await ledger.close()
    with pytest.raises(QuotaStoreError, match="closed"):
        await ledger.reserve(plan(planner(services={"dgfip/svc": {"tokens_per_day": 1}}), clock()))


async def test_old_rows_are_deleted(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "gateway.db"
    ledger = await EmbeddedLedger.open(path, reservation_ttl=10, clock=clock)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10_000, "tokens_per_minute": 10_000}})
    try:
        await ledger.settle(reserved(await ledger.reserve(plan(quotas, clock()))), 1, 1)
        clock.advance(3 * 86_400)  # the day's counter, the buckets and the record are all past use
        await ledger.settle(reserved(await ledger.reserve(plan(quotas, clock()))), 1, 1)
    finally:
        await ledger.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM quota_counters").fetchone() == (1,)
        assert connection.execute("SELECT count(*) FROM quota_buckets").fetchone() == (1,)
        assert connection.execute("SELECT count(*) FROM quota_reservations").fetchone() == (1,)
    connection.close()
