"""Session fixtures shared by every test package: the Redis Cluster and the Sentinel setup the store
tests run on besides a single server (started only by the tests that ask for them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redis_server import ClusterServers, SentinelServers, redis_cluster, redis_sentinel


@pytest.fixture(scope="session")
def redis_cluster_servers() -> Iterator[ClusterServers]:
    """A 3-master Redis Cluster for the session; tests keep apart by using their own key prefix."""
    with redis_cluster() as servers:
        yield servers


@pytest.fixture(scope="session")
def redis_sentinel_servers() -> Iterator[SentinelServers]:
    """A master, a replica and a Sentinel for the session. Never fail it over here: a test that
    does starts its own (`tests.redis_server.redis_sentinel`)."""
    with redis_sentinel() as servers:
        yield servers
