"""From configuration to a ledger: the store the `store` section names, wrapped per on_store_error."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.identity import CredentialError
from gateway.quotas import EmbeddedLedger, QuotaConfig, open_ledger
from gateway.quotas.redis_ledger import RedisLedger
from gateway.storage import StoreConfig

pytestmark = pytest.mark.asyncio


async def test_embedded_store_in_the_key_stores_file(tmp_path: Path) -> None:
    store = StoreConfig(path=tmp_path / "gateway.db")
    ledger = await open_ledger(QuotaConfig(reservation_ttl_seconds=60), store)
    try:
        assert isinstance(ledger.store, EmbeddedLedger) and ledger.store.path == store.path
        assert ledger.mode == "fail_closed" and ledger.local is None
        assert ledger.reservation_ttl == 60
        await ledger.ping()
    finally:
        await ledger.close()


async def test_redis_store_fail_open(redis_url: str) -> None:
    store = StoreConfig(kind="redis", url=redis_url, prefix="factory")
    ledger = await open_ledger(QuotaConfig(on_store_error="fail_open"), store)
    try:
        assert isinstance(ledger.store, RedisLedger) and ledger.local is not None
        await ledger.ping()
    finally:
        await ledger.close()


async def test_a_missing_redis_password_is_named() -> None:
    store = StoreConfig(kind="redis", url="redis://127.0.0.1:1/0", password_env="QUOTA_TEST_PASSWORD")
    with pytest.raises(CredentialError, match="QUOTA_TEST_PASSWORD"):
        await open_ledger(QuotaConfig(), store, environ={})
