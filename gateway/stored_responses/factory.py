"""From the `store` section to the open store of response homes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gateway.storage import StoreConfig
from gateway.stored_responses.homes import ResponseHomes

__all__ = ["open_response_homes", "response_homes_path"]


def response_homes_path(store: StoreConfig) -> Path:
    """Next to the keys' database: `data/gateway.db` -> `data/gateway.responses.db`."""
    return store.path.with_name(f"{store.path.stem}.responses{store.path.suffix or '.db'}")


async def open_response_homes(store: StoreConfig, environ: Mapping[str, str] | None = None) -> ResponseHomes:
    """Open the configured store with its own connection; the caller closes it."""
    if store.kind == "embedded":
        from gateway.stored_responses.embedded import EmbeddedResponseHomes

        return await EmbeddedResponseHomes.open(response_homes_path(store))

    # Imported here: processes on the embedded store have no use for redis-py.
    from gateway.storage.redis_target import redis_target
    from gateway.stored_responses.redis_store import RedisResponseHomes

    target = redis_target(store, environ)  # a missing secret fails start-up, as for the other stores
    return RedisResponseHomes.from_url(
        target.url,
        password=target.password,
        topology=target.topology,
        prefix=store.prefix,
        timeout=store.timeout,
    )
