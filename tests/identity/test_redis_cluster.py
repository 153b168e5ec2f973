"""What only a Redis Cluster asks of the key store: a change announced on any node reaches every cache."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis.asyncio as redis

from gateway.identity.redis_store import RedisKeyStore
from tests.identity.conftest import CHANGE_DEADLINE
from tests.redis_server import ClusterServers
from tests.redis_topologies import cluster_connection


@pytest.mark.asyncio
async def test_an_announcement_from_any_node_reaches_the_subscriber(
    redis_cluster_servers: ClusterServers,
) -> None:
    """A subscriber listens on one node; writers publish on whichever node their client picks. Cluster
    forwards every PUBLISH to all nodes, which the revocation broadcast relies on."""
    connection = cluster_connection(redis_cluster_servers)
    store = RedisKeyStore.from_url(
        connection.url, prefix=f"c{uuid.uuid4().hex[:12]}", heartbeat=0.2, topology=connection.topology
    )
    heard: list[str | None] = []
    try:
        await store.subscribe_changes(heard.append)
        assert store.changes_live
        for index, node in enumerate(redis_cluster_servers.nodes):
            # A plain client on one node: PUBLISH goes to that node and no other.
            publisher = redis.Redis(host="127.0.0.1", port=node.port)
            try:
                await publisher.publish(store.channel, f"key-{index}")
            finally:
                await publisher.aclose()
            deadline = time.monotonic() + CHANGE_DEADLINE
            while f"key-{index}" not in heard:
                assert time.monotonic() < deadline, f"nothing heard from node {node.port}"
                await asyncio.sleep(0.01)
    finally:
        await store.close()
