"""The Redis topologies the store tests run on: one server, a Redis Cluster, a Sentinel-watched master.

The contract tests of the key store, the quota ledger and the usage store run on each: the fixture
of their package takes the kind as its parameter, `redis_connection` says how to reach that kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway.storage import split_address
from gateway.storage.redis_target import STANDALONE, RedisTopology
from tests.redis_server import ClusterServers, SentinelServers

__all__ = ["REDIS_KINDS", "STORE_KINDS", "RedisConnection", "redis_connection"]

REDIS_KINDS = ("redis", "redis-cluster", "redis-sentinel")
STORE_KINDS = ("embedded", *REDIS_KINDS)
"""Every store kind, for `pytest.mark.parametrize(<backend fixture>, STORE_KINDS, indirect=True)`."""


@dataclass(frozen=True)
class RedisConnection:
    """What a store's `from_url` needs besides its prefix."""

    url: str
    topology: RedisTopology = STANDALONE


def cluster_connection(servers: ClusterServers) -> RedisConnection:
    # Startup nodes only: the client learns the rest of the cluster from them.
    nodes = tuple(split_address(address) for address in servers.addresses)
    return RedisConnection("redis://", RedisTopology(mode="cluster", cluster_nodes=nodes))


def sentinel_connection(servers: SentinelServers) -> RedisConnection:
    sentinels = tuple(split_address(address) for address in servers.addresses)
    topology = RedisTopology(mode="sentinel", sentinels=sentinels, sentinel_master=servers.master_name)
    return RedisConnection("redis:///0", topology)


def redis_connection(request: pytest.FixtureRequest, kind: str) -> RedisConnection:
    """The shared servers of `kind`, started once per session (`redis_url` is each package's own)."""
    if kind == "redis-cluster":
        return cluster_connection(request.getfixturevalue("redis_cluster_servers"))
    if kind == "redis-sentinel":
        return sentinel_connection(request.getfixturevalue("redis_sentinel_servers"))
    assert kind == "redis", kind
    return RedisConnection(request.getfixturevalue("redis_url"))
