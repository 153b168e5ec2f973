"""The gateway on a Redis Cluster and on a Sentinel-watched master, real servers on loopback.

On the Cluster: keys, budgets and usage all work across its nodes (the budget runs out with a 429 and
is never exceeded; usage is recorded). With Sentinel: the master is killed, the Sentinel promotes the
replica, and the gateway serves again within a bounded time, without a restart.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from gateway.metering import open_usage_store
from gateway.metering.periods import Calendar
from gateway.storage import StoreConfig
from tests.gateway.conftest import (
    DEPARTMENT,
    SERVICE,
    SOLO_MODEL,
    RunningGateway,
    running_gateway,
    running_simulator,
)
from tests.redis_server import ClusterServers, redis_sentinel

PEPPER = "a-test-pepper-that-is-long-enough-1234567890"
FAILOVER_DEADLINE = 20.0
"""Seconds from killing the master to a served request: Sentinel's own failover takes one to three
seconds here (down-after 0.5 s), the rest is margin for a loaded machine."""


def _chat(gw: RunningGateway, timeout: float = 10.0) -> httpx.Response:
    payload = {"model": SOLO_MODEL, "messages": [{"role": "user", "content": "deux mots"}], "max_tokens": 10}
    return httpx.post(f"{gw.v1}/chat/completions", json=payload, headers=gw.headers, timeout=timeout)


def _quotas(**limits: Any) -> dict[str, Any]:
    return {"services": {f"{DEPARTMENT}/{SERVICE}": limits}}


async def _requests_recorded(store: StoreConfig) -> int:
    usage = await open_usage_store(store)
    try:
        period, _ = Calendar("Europe/Paris").locate(time.time())
        return sum(cell.requests for cell in await usage.cells(period, DEPARTMENT))
    finally:
        await usage.close()


def test_gateway_on_a_redis_cluster(
    redis_cluster_servers: ClusterServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_KEY_PEPPER", PEPPER)
    store = {
        "kind": "redis",
        "redis_mode": "cluster",
        "cluster_nodes": redis_cluster_servers.addresses,
        "prefix": f"g{uuid.uuid4().hex[:12]}",
    }
    budget = 300
    served = 0
    with (
        running_simulator(SOLO_MODEL) as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            store=store,
            quotas=_quotas(tokens_per_day=budget),
        ) as gw,
    ):
        used = 0
        for _ in range(50):
            response = _chat(gw)
            if response.status_code == 429:
                break
            assert response.status_code == 200, response.text
            served += 1
            used += response.json()["usage"]["total_tokens"]
        else:
            pytest.fail("the budget never ran out")
        assert response.json()["error"]["code"] == "insufficient_quota"
        assert 0 < used <= budget
        assert served >= 2
        config = gw.state.config.store
    # Closed: the last usage records were written on the way out.
    assert asyncio.run(_requests_recorded(config)) >= served


def test_gateway_follows_a_sentinel_failover(monkeypatch: pytest.MonkeyPatch) -> None:
    """With passwords on the servers and on the Sentinel, as in production."""
    monkeypatch.setenv("GATEWAY_KEY_PEPPER", PEPPER)
    monkeypatch.setenv("TEST_REDIS_PASSWORD", "redis-secret")
    monkeypatch.setenv("TEST_SENTINEL_PASSWORD", "sentinel-secret")
    with (
        redis_sentinel(password="redis-secret", sentinel_password="sentinel-secret") as servers,
        running_simulator(SOLO_MODEL) as sim,
    ):
        store = {
            "kind": "redis",
            "redis_mode": "sentinel",
            "sentinels": servers.addresses,
            "sentinel_master": servers.master_name,
            "password_env": "TEST_REDIS_PASSWORD",
            "sentinel_password_env": "TEST_SENTINEL_PASSWORD",
        }
        with running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            store=store,
            quotas=_quotas(tokens_per_day=100_000),
        ) as gw:
            assert _chat(gw).status_code == 200
            # The key and the budget must be on the replica before its master dies.
            servers.wait_for_replica()
            servers.master.kill()
            killed = time.monotonic()
            statuses: list[int] = []
            while time.monotonic() - killed < FAILOVER_DEADLINE:
                statuses.append(_chat(gw, timeout=5.0).status_code)
                if statuses[-1] == 200:
                    break
                time.sleep(0.2)
            elapsed = time.monotonic() - killed
            assert statuses[-1] == 200, (
                f"no request served {FAILOVER_DEADLINE} s after the master died: {statuses}"
            )
            # Refused while there was no master (503: fail_closed), never anything else.
            assert set(statuses[:-1]) <= {503}, statuses
            assert servers.master_port() == servers.replica.port
            print(f"\n  served again {elapsed:.1f} s after the master was killed")
            assert _chat(gw).status_code == 200
