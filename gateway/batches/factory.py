"""From the `store` section to the open batch store."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gateway.batches.store import BatchStore
from gateway.storage import StoreConfig

__all__ = ["batches_path", "open_batch_store"]


def batches_path(store: StoreConfig) -> Path:
    """Next to the keys' database: `data/gateway.db` -> `data/gateway.batches.db`."""
    return store.path.with_name(f"{store.path.stem}.batches{store.path.suffix or '.db'}")


async def open_batch_store(
    store: StoreConfig, environ: Mapping[str, str] | None = None, *, runs_batches: bool = True
) -> BatchStore:
    """Open the configured store with its own connection; the caller closes it. `runs_batches`: False
    for the command line, which must not take back the lines a running gateway holds."""
    if store.kind == "embedded":
        from gateway.batches.embedded import EmbeddedBatchStore

        return await EmbeddedBatchStore.open(batches_path(store), runs_batches=runs_batches)

    # Imported here: processes on the embedded store have no use for redis-py.
    from gateway.batches.redis_store import RedisBatchStore
    from gateway.storage.redis_target import redis_target

    target = redis_target(store, environ)
    return RedisBatchStore.from_url(
        target.url,
        password=target.password,
        topology=target.topology,
        prefix=store.prefix,
        timeout=store.timeout,
    )
