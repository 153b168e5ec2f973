"""`store.redis_mode` and its keys: what each mode needs, what it refuses, what reaches the client."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as redis
from pydantic import ValidationError
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import SSLConnection
from redis.asyncio.sentinel import SentinelManagedSSLConnection

from gateway.identity import CredentialError
from gateway.storage import StoreConfig
from gateway.storage.redis_client import connect_redis
from gateway.storage.redis_target import RedisTopology, redis_target

SENTINEL = {
    "kind": "redis",
    "redis_mode": "sentinel",
    "sentinels": ["10.0.0.1:26379"],
    "sentinel_master": "m",
}
CLUSTER = {"kind": "redis", "redis_mode": "cluster", "cluster_nodes": ["10.0.0.1:6379"]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"redis_mode": "sentinel"}, "are for kind: redis"),
        ({"kind": "redis", "redis_mode": "replicated", "url": "redis://h"}, "standalone"),
        ({"kind": "redis", "url": "redis://h", "sentinels": ["h:26379"]}, "are for redis_mode: sentinel"),
        ({"kind": "redis", "url": "redis://h", "cluster_nodes": ["h:6379"]}, "are for redis_mode: cluster"),
        ({**SENTINEL, "cluster_nodes": ["h:6379"]}, "are for redis_mode: cluster"),
        ({**SENTINEL, "sentinels": []}, "needs sentinels"),
        ({key: value for key, value in SENTINEL.items() if key != "sentinel_master"}, "sentinel_master"),
        ({**SENTINEL, "url": "redis://10.0.0.9:6379/0"}, "the Sentinels say where the master is"),
        ({**SENTINEL, "sentinels": ["10.0.0.1"]}, "pattern"),
        ({**SENTINEL, "sentinels": ["10.0.0.1:99999"]}, "between 1 and 65535"),
        ({**SENTINEL, "sentinel_password_env": "not a name"}, "pattern"),
        ({"kind": "redis", "redis_mode": "cluster"}, "needs a node to discover the cluster from"),
        ({"kind": "redis", "redis_mode": "cluster", "url": "rediss://gateway@/0"}, "needs a node"),
        ({**CLUSTER, "url": "redis://10.0.0.2:6379/3"}, "only database 0"),
        ({**CLUSTER, "url": "unix:///run/redis.sock"}, "over TCP"),
        ({**CLUSTER, "sentinel_master": "m"}, "are for redis_mode: sentinel"),
    ],
)
def test_mode_combinations_refused_with_a_reason(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StoreConfig.model_validate(data)


def test_sentinel_mode_reads_both_passwords_and_keeps_them_out_of_the_repr() -> None:
    config = StoreConfig.model_validate(
        {
            **SENTINEL,
            "sentinels": ["10.0.0.1:26379", "sentinel-2.redis:26380", "[fd00::3]:26379"],
            "url": "rediss://gateway@/2",
            "password_env": "TEST_REDIS_PASSWORD",
            "sentinel_password_env": "TEST_SENTINEL_PASSWORD",
        }
    )
    environ = {"TEST_REDIS_PASSWORD": "master-secret", "TEST_SENTINEL_PASSWORD": "sentinel-secret"}
    target = redis_target(config, environ)
    assert target.url == "rediss://gateway@/2"
    assert target.password == "master-secret"
    assert target.topology == RedisTopology(
        mode="sentinel",
        sentinels=(("10.0.0.1", 26379), ("sentinel-2.redis", 26380), ("fd00::3", 26379)),
        sentinel_master="m",
        sentinel_password="sentinel-secret",
    )
    assert "secret" not in repr(target)
    with pytest.raises(CredentialError, match="TEST_SENTINEL_PASSWORD"):
        redis_target(config, {"TEST_REDIS_PASSWORD": "master-secret"})


def test_cluster_mode_from_nodes_alone_or_with_a_url() -> None:
    alone = redis_target(StoreConfig.model_validate({**CLUSTER, "cluster_nodes": ["a:7000", "b:7001"]}))
    assert alone.url == "redis://"
    assert alone.topology.mode == "cluster"
    assert alone.topology.cluster_nodes == (("a", 7000), ("b", 7001))
    with_url = StoreConfig.model_validate(
        {"kind": "redis", "redis_mode": "cluster", "url": "rediss://c:6379/0"}
    )
    assert redis_target(with_url).url == "rediss://c:6379/0"


def test_standalone_is_the_default_and_unchanged() -> None:
    target = redis_target(StoreConfig(kind="redis", url="redis://127.0.0.1:6379/0"))
    assert target.topology == RedisTopology()
    assert target.url == "redis://127.0.0.1:6379/0" and target.password is None


@pytest.mark.asyncio
async def test_tls_user_and_database_reach_the_sentinel_and_cluster_clients() -> None:
    """`rediss://` must become redis-py's `ssl` flag, not its TLS connection class: the Sentinel pool
    and the Cluster client choose their own (a Sentinel-managed one keeps following failovers)."""
    sentinel = redis_target(
        StoreConfig.model_validate({**SENTINEL, "url": "rediss://gateway@/2?ssl_cert_reqs=none"})
    )
    client = connect_redis(
        sentinel.url, password=None, timeout=1.0, client_name="t", topology=sentinel.topology
    )
    try:
        assert isinstance(client, redis.Redis)
        pool = client.connection_pool
        assert issubclass(pool.connection_class, SentinelManagedSSLConnection)
        assert pool.connection_kwargs["username"] == "gateway" and pool.connection_kwargs["db"] == 2
        assert pool.connection_kwargs["ssl_cert_reqs"] == "none"
    finally:
        await client.aclose()
    cluster = redis_target(StoreConfig.model_validate({**CLUSTER, "url": "rediss://gateway@10.0.0.2:7000"}))
    nodes = connect_redis(cluster.url, password=None, timeout=1.0, client_name="t", topology=cluster.topology)
    try:
        assert isinstance(nodes, RedisCluster)
        assert [(node.host, node.port) for node in nodes.startup_nodes] == [
            ("10.0.0.2", 7000),
            ("10.0.0.1", 6379),
        ]
        assert nodes.connection_kwargs["connection_class"] is SSLConnection
        assert nodes.connection_kwargs["username"] == "gateway"
    finally:
        await nodes.aclose()
