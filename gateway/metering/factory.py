"""From the `store` and `metering` configuration sections to an open usage store and a recorder."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gateway.identity.errors import CredentialError
from gateway.metering.errors import UsageStoreError
from gateway.metering.recorder import UsageRecorder
from gateway.metering.settings import MeteringConfig
from gateway.metering.store import UsageStore
from gateway.storage import StoreConfig

__all__ = ["open_usage_store", "start_usage_recorder", "usage_database_path"]


def usage_database_path(store: StoreConfig) -> Path:
    """The embedded store's file: next to the keys' database, `data/gateway.db` -> `data/gateway.usage.db`."""
    return store.path.with_name(f"{store.path.stem}.usage{store.path.suffix or '.db'}")


async def open_usage_store(
    store: StoreConfig,
    settings: MeteringConfig | None = None,
    *,
    read_only: bool = False,
    environ: Mapping[str, str] | None = None,
) -> UsageStore:
    """Open the configured usage store with its own connection; the caller closes it.

    `read_only=True` (reports): a missing SQLite file is an error rather than a new empty database,
    and an existing one is never changed (Redis: no difference)."""
    settings = settings or MeteringConfig()
    if store.kind == "embedded":
        from gateway.metering.embedded import EmbeddedUsageStore

        return await EmbeddedUsageStore.open(
            usage_database_path(store), timezone=settings.timezone, read_only=read_only
        )

    # Imported here: processes on the embedded store have no use for redis-py.
    from gateway.metering.redis_store import RedisUsageStore
    from gateway.storage.redis_target import redis_target

    try:
        target = redis_target(store, environ)
    except CredentialError as exc:
        raise UsageStoreError(str(exc)) from None
    return RedisUsageStore.from_url(
        target.url,
        password=target.password,
        topology=target.topology,
        prefix=store.prefix,
        timeout=store.timeout,
        timezone=settings.timezone,
        records_retention_days=settings.records_retention_days,
        rollups_retention_days=settings.rollups_retention_days,
    )


async def start_usage_recorder(
    store: StoreConfig,
    settings: MeteringConfig | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> UsageRecorder:
    """Open the store and start a recorder that owns it (`await recorder.close()` closes both).

    Call it on the worker's event loop, at startup; `recorder.store` serves `GET /admin/usage`."""
    settings = settings or MeteringConfig()
    usage_store = await open_usage_store(store, settings, environ=environ)
    recorder = UsageRecorder(
        usage_store,
        flush_interval=settings.flush_interval_seconds,
        batch_size=min(settings.batch_size, settings.max_buffered_records),
        max_buffered=settings.max_buffered_records,
        close_timeout=settings.close_timeout_seconds,
        max_retry_delay=settings.max_retry_delay_seconds,
        owns_store=True,
    )
    await recorder.start()
    return recorder
