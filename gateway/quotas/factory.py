"""From the `quotas` and `store` configuration sections to a working ledger."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.quotas.ledger import Ledger
from gateway.quotas.resilient import ResilientLedger
from gateway.quotas.settings import QuotaConfig
from gateway.storage import StoreConfig

__all__ = ["open_ledger"]


async def open_ledger(
    quotas: QuotaConfig, store: StoreConfig, environ: Mapping[str, str] | None = None
) -> ResilientLedger:
    """The configured store's ledger (the embedded one shares the key store's SQLite file), wrapped with
    the `on_store_error` behaviour. One per worker; the caller closes it."""
    inner: Ledger
    if store.kind == "embedded":
        from gateway.quotas.embedded import EmbeddedLedger

        inner = await EmbeddedLedger.open(store.path, reservation_ttl=quotas.reservation_ttl_seconds)
    else:
        # Imported here: processes on the embedded store have no use for redis-py.
        from gateway.quotas.redis_ledger import RedisLedger
        from gateway.storage.redis_target import redis_target

        target = redis_target(store, environ)
        inner = RedisLedger.from_url(
            target.url,
            password=target.password,
            topology=target.topology,
            prefix=store.prefix,
            timeout=store.timeout,
            reservation_ttl=quotas.reservation_ttl_seconds,
        )
    return await ResilientLedger.open(inner, on_store_error=quotas.on_store_error)
