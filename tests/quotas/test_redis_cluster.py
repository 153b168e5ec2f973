"""What only a Redis Cluster asks of the ledger: departments on several nodes, counted and swept on all;
bursts that wait for a connection."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio.cluster import RedisCluster

from gateway.quotas import Reservation
from gateway.quotas.redis_ledger import RedisLedger
from tests.quotas.conftest import FakeClock, plan, planner, reserved
from tests.redis_server import ClusterServers
from tests.redis_topologies import cluster_connection

pytestmark = pytest.mark.asyncio

DEPARTMENTS = [f"dept-{index}" for index in range(12)]


async def test_departments_on_every_node_are_counted_and_swept(
    redis_cluster_servers: ClusterServers, clock: FakeClock
) -> None:
    connection = cluster_connection(redis_cluster_servers)
    prefix = f"c{uuid.uuid4().hex[:12]}"
    ledger = RedisLedger.from_url(connection.url, prefix=prefix, clock=clock, topology=connection.topology)
    quotas = planner(
        departments={name: {"tokens_per_day": 10_000, "max_concurrent": 5} for name in DEPARTMENTS}
    )
    try:
        for department in DEPARTMENTS:
            reserved(await ledger.reserve(plan(quotas, clock(), department=department)))
        client = ledger._client
        assert isinstance(client, RedisCluster)
        owners = {client.get_node_from_key(f"{prefix}:q:{{{name}}}:open") for name in DEPARTMENTS}
        assert None not in owners and len(owners) == 3, "the departments should spread over the three masters"
        # Each node lists only its own keys: both must ask every node.
        assert await ledger.outstanding() == len(DEPARTMENTS)
        clock.advance(ledger.reservation_ttl + 1)
        assert await ledger.sweep() == len(DEPARTMENTS)
        assert await ledger.outstanding() == 0
        await ledger.ping()
    finally:
        await ledger.close()


async def test_a_burst_beyond_the_connection_cap_waits_instead_of_failing(
    redis_cluster_servers: ClusterServers, clock: FakeClock
) -> None:
    """redis-py's cluster client fails a command at once when its node's connections are all busy;
    the gateway's waits for one, as its standalone pool does."""
    connection = cluster_connection(redis_cluster_servers)
    ledger = RedisLedger.from_url(
        connection.url,
        prefix=f"c{uuid.uuid4().hex[:12]}",
        clock=clock,
        max_connections=2,
        topology=connection.topology,
    )
    quotas = planner(departments={"dgfip": {"tokens_per_day": 1_000_000}})
    try:
        outcomes = await asyncio.gather(*(ledger.reserve(plan(quotas, clock())) for _ in range(40)))
        assert all(isinstance(outcome, Reservation) for outcome in outcomes)
        assert await ledger.outstanding("dgfip") == 40
    finally:
        await ledger.close()
