"""From the configuration to this process's capacity shares: leases in Redis, or none at all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.admission.leases import CapacityShares
    from gateway.config import GatewayConfig
    from gateway.state import Gateway

__all__ = ["open_capacity_shares"]


def open_capacity_shares(
    config: GatewayConfig, gateway: Gateway, environ: Mapping[str, str] | None = None
) -> CapacityShares | None:
    """The lease keeper of a process on the Redis store with admission on; None otherwise (the
    embedded store is one process, which owns the whole capacity). The caller starts and stops it."""
    if not config.admission.enabled or config.store.kind != "redis":
        return None
    # Imported here: processes on the embedded store have no use for redis-py.
    from gateway.admission.leases import CapacityShares
    from gateway.admission.redis_leases import RedisLeases
    from gateway.storage.redis_client import connect_redis
    from gateway.storage.redis_target import redis_target

    target = redis_target(config.store, environ)
    client = connect_redis(
        target.url,
        password=target.password,
        timeout=config.store.timeout,
        client_name="sovereign-gateway-admission",
        max_connections=4,
        topology=target.topology,
    )
    capacities = {
        backend.url: backend.max_concurrent for model in config.models for backend in model.backends
    }
    return CapacityShares(
        RedisLeases(client, config.store.prefix),
        gateway.backends,
        gateway.admission,
        capacities=capacities,
        renew_seconds=config.admission.renew_seconds,
        lease_seconds=config.admission.lease_seconds,
    )
