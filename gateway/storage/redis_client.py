"""The one way the gateway's Redis stores connect: a bounded pool that waits, and retries once.

Keys, quotas and usage each keep their own client (their own pool and client name, so `CLIENT LIST`
shows who is who), built the same way here, for the three topologies `store.redis_mode` names:

- standalone: one server, at the URL;
- sentinel: a `redis.asyncio.Redis` whose pool asks the Sentinels where the master is before each
  new connection, so that connections made after a failover reach the promoted replica;
- cluster: a `RedisCluster`, which routes every command to the node owning its keys' hash slot.

Every store's multi-key command (Lua scripts above all) only touches keys of one hash slot: their
names carry a hash tag, `{key id}` or `{department}`, so that they work on a Cluster unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias

import redis.asyncio as redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import BlockingConnectionPool, SSLConnection, parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.storage.redis_packing import hiredis_packing
from gateway.storage.redis_target import STANDALONE, RedisTopology

__all__ = ["RedisClient", "connect_redis", "open_pubsub"]

RedisClient: TypeAlias = redis.Redis | RedisCluster
"""What the stores hold: the same commands either way, routed by slot on a Cluster."""

# Connections a Cluster client may open to one node beyond its command limit: pipelines and the
# key store's subscription take theirs outside that limit (see _WaitingRedisCluster).
_CLUSTER_HEADROOM = 8


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2)


def connect_redis(
    url: str,
    *,
    password: str | None,
    timeout: float,
    client_name: str,
    max_connections: int = 64,
    topology: RedisTopology = STANDALONE,
) -> RedisClient:
    """A client whose pool waits (up to `timeout`) for a free connection under a burst, instead of
    failing at once as redis-py's default pool does beyond its cap. A pooled connection that died
    with a Redis restart fails its next command once; one quick retry on a fresh connection hides
    that without stretching a real outage. Every caller's writes are idempotent, so a retried
    command never counts twice.

    `url` gives the scheme (`rediss://`: TLS), the user name and the database; in standalone mode
    also the server, in cluster mode optionally one node to start from, in sentinel mode no server."""
    common: dict[str, Any] = {
        "password": password,
        "decode_responses": True,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "client_name": client_name,
    }
    if topology.mode == "cluster":
        return _cluster(url, topology, common, timeout=timeout, max_connections=max_connections)
    if topology.mode == "sentinel":
        return _sentinel_master(url, topology, common, timeout=timeout, max_connections=max_connections)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        retry=_retry(),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        **common,
    )
    pool.connection_class = hiredis_packing(pool.connection_class)
    return redis.Redis.from_pool(pool)


async def open_pubsub(client: RedisClient) -> PubSub:
    """A subscriber on `client`'s Redis. On a Cluster it connects to the node owning the channel's
    slot, which it can only tell once the client knows the slots: a store that subscribes before its
    first command would otherwise fail forever. (Any node would do: Cluster broadcasts PUBLISH.)"""
    if isinstance(client, RedisCluster):
        await client.initialize()
    return client.pubsub()


def _url_options(url: str) -> dict[str, Any]:
    """The URL's user, database, TLS and query options, without its host (the topology has those).
    `rediss://` becomes `ssl=True`: redis-py's sentinel and cluster clients pick their own TLS
    connection classes from that flag and would lose failover handling with a class given."""
    options: dict[str, Any] = dict(parse_url(url))
    options.pop("host", None)
    options.pop("port", None)
    if options.pop("connection_class", None) is SSLConnection:
        options["ssl"] = True
    return options


def _merged(common: dict[str, Any], url_options: dict[str, Any]) -> dict[str, Any]:
    """The options of every connection, the URL's query winning, as in redis-py's `from_url`."""
    return {**common, **url_options}


# -- Sentinel ------------------------------------------------------------------------------------


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """redis-py's Sentinel pool, which finds the master before connecting, with the blocking pool's
    wait for a free connection (the standalone behaviour). It owns the Sentinel clients it asks, so
    closing the store's client closes their connections too."""

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            await self.sentinel_manager.aclose()


def _sentinel_master(
    url: str, topology: RedisTopology, common: dict[str, Any], *, timeout: float, max_connections: int
) -> redis.Redis:
    options = _url_options(url)
    # No client name for the Sentinels: older ones refuse CLIENT SETNAME, which would fail the connection.
    sentinel_options: dict[str, Any] = {
        "password": topology.sentinel_password,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "decode_responses": True,
    }
    # TLS to the master means TLS to the Sentinels too: both usually share one certificate setup.
    sentinel_options.update({name: value for name, value in options.items() if name.startswith("ssl")})
    sentinel = Sentinel(list(topology.sentinels), sentinel_kwargs=sentinel_options)
    client: redis.Redis = sentinel.master_for(
        topology.sentinel_master,
        connection_pool_class=_BlockingSentinelPool,
        max_connections=max_connections,
        timeout=timeout,
        # A connection to a master that died or was demoted fails; the retry reconnects, and a new
        # connection asks the Sentinels where the master is now.
        retry=_retry(),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        **_merged(common, options),
    )
    pool = client.connection_pool
    pool.connection_class = hiredis_packing(pool.connection_class)
    return client


# -- Cluster -------------------------------------------------------------------------------------


class _WaitingRedisCluster(RedisCluster):
    """redis-py's async Cluster client fails a command at once (MaxConnectionsError) when its node's
    connections are all busy. This one lets at most `max_commands` commands run at once, the others
    waiting up to `wait` seconds for their turn, as the standalone pool waits for a connection; each
    node allows a few connections more, for pipelines and the subscription, which are not counted."""

    def __init__(self, *, max_commands: int, wait: float, **options: Any) -> None:
        super().__init__(**options)
        self._turns = asyncio.Semaphore(max_commands)
        self._wait = wait

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            async with asyncio.timeout(self._wait):
                await self._turns.acquire()
        except TimeoutError:
            raise RedisConnectionError("No connection available.") from None
        try:
            return await super().execute_command(*args, **kwargs)
        finally:
            self._turns.release()


def _cluster(
    url: str, topology: RedisTopology, common: dict[str, Any], *, timeout: float, max_connections: int
) -> RedisCluster:
    parsed = parse_url(url)
    addresses = list(topology.cluster_nodes)
    if "host" in parsed:
        addresses.insert(0, (parsed["host"], int(parsed.get("port") or 6379)))
    options = _url_options(url)
    options.pop("db", None)  # a Cluster has database 0 only (the configuration refuses others)
    return _WaitingRedisCluster(
        max_commands=max_connections,
        wait=timeout,
        startup_nodes=[ClusterNode(node_host, node_port) for node_host, node_port in addresses],
        max_connections=max_connections + _CLUSTER_HEADROOM,
        # Keep the configured startup nodes (often Kubernetes Service names) for rediscovery
        # instead of replacing them by the node addresses the cluster reported: pods' addresses change
        # when they are rescheduled, a Service name does not.
        dynamic_startup_nodes=False,
        # Connection and timeout errors: the client rediscovers the slots and tries again, twice.
        retry=_retry(),
        **_merged(common, options),
    )
