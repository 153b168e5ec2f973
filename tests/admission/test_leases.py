"""Several gateways on one Redis share each backend's capacity through leases: together they never
run more than the capacity on it, idle capacity goes where the work is, and a dead one's share
returns to the others."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from gateway.admission.leases import share_of
from tests.gateway.conftest import SOLO_MODEL, RunningGateway, running_gateway, running_simulator, sim_stats
from tests.redis_server import running_redis
from tests.waiting import wait_for

_CAPACITY = 6
_FAST_LEASES = {"renew_seconds": 0.1, "lease_seconds": 0.5}


def _shares(capacity: int, demands: list[int]) -> list[int]:
    named = {f"p{index}": demand for index, demand in enumerate(demands)}
    return [share_of(capacity, name, named) for name in named]


def test_shares_add_up_to_the_capacity() -> None:
    assert _shares(6, [0, 0, 0]) == [2, 2, 2]  # idle: split evenly
    assert _shares(8, [0, 0, 0]) == [3, 3, 2]  # the remainder by process id
    assert _shares(6, [4, 0, 0]) == [5, 1, 0]  # every demand fits: demand plus the spare's split
    assert _shares(6, [9, 3, 0]) == [4, 2, 0]  # too much work: one each, the rest by demand
    assert _shares(6, [1, 2, 30]) == [1, 1, 4]
    assert _shares(2, [1, 1, 1, 1]) == [1, 1, 0, 0]  # fewer slots than busy processes
    for demands in ([5, 5, 5], [1, 2, 30], [0, 7, 0], [6, 0, 0], [2, 2, 2], [100, 1, 1], [7, 7, 7, 7]):
        assert sum(_shares(_CAPACITY, demands)) == _CAPACITY, demands


@pytest.fixture
def three_gateways(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[RunningGateway]]]:
    monkeypatch.setenv("GATEWAY_KEY_PEPPER", "a-test-pepper-that-is-long-enough-1234567890")
    with (
        running_redis() as redis_url,
        running_simulator(SOLO_MODEL, max_num_seqs=_CAPACITY, ttft_ms=0.0, itl_ms=20.0) as sim,
        ExitStack() as stack,
    ):
        sections: dict[str, Any] = {
            "store": {"kind": "redis", "url": redis_url},
            "admission": _FAST_LEASES,
        }
        models = [{"name": SOLO_MODEL, "backends": [{"url": sim, "max_concurrent": _CAPACITY}]}]
        gateways = [stack.enter_context(running_gateway(models, **sections)) for _ in range(3)]
        yield sim, gateways


def _share(gateway: RunningGateway) -> int | None:
    return gateway.state.backends[0].max_concurrent


def test_three_replicas_never_exceed_the_backend_capacity(
    three_gateways: tuple[str, list[RunningGateway]],
) -> None:
    sim, gateways = three_gateways
    assert wait_for(lambda: [_share(g) for g in gateways] == [2, 2, 2], 5), [_share(g) for g in gateways]

    def send(index: int) -> httpx.Response:
        gateway = gateways[index % 3]
        return httpx.post(
            f"{gateway.v1}/chat/completions",
            json={
                "model": SOLO_MODEL,
                "messages": [{"role": "user", "content": f"q{index}"}],
                "max_tokens": 10,
            },
            headers=gateway.headers,
            timeout=30,
        )

    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(send, range(48)))
    assert [answer.status_code for answer in answers] == [200] * 48
    stats = sim_stats(sim)
    # Together the three admitted at most the capacity: vLLM never had to queue.
    assert stats["peak_running"] <= _CAPACITY and stats["peak_waiting"] == 0, stats
    assert sum(int(answer.headers["x-gateway-queue-ms"]) > 0 for answer in answers) > 0


def test_the_busy_replica_gets_the_idle_capacity(three_gateways: tuple[str, list[RunningGateway]]) -> None:
    sim, gateways = three_gateways
    busy = gateways[0]
    assert wait_for(lambda: [_share(g) for g in gateways] == [2, 2, 2], 5)

    def send(index: int) -> int:
        return httpx.post(
            f"{busy.v1}/chat/completions",
            json={
                "model": SOLO_MODEL,
                "messages": [{"role": "user", "content": f"q{index}"}],
                "max_tokens": 50,
            },
            headers=busy.headers,
            timeout=30,
        ).status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = pool.map(send, range(12))
        # Twelve requests on one replica: its share grows to what the others leave idle.
        assert wait_for(lambda: _share(busy) == _CAPACITY, 5), _share(busy)
        assert list(statuses) == [200] * 12
    assert sim_stats(sim)["peak_waiting"] == 0


def test_a_dead_replica_share_returns(three_gateways: tuple[str, list[RunningGateway]]) -> None:
    _, gateways = three_gateways
    assert wait_for(lambda: [_share(g) for g in gateways] == [2, 2, 2], 5)
    dead = gateways[2]
    # It stops renewing without handing its share back, as a killed process would.
    shares = dead.worker.capacity_shares
    assert shares is not None
    task = shares._task
    assert task is not None
    task.get_loop().call_soon_threadsafe(task.cancel)
    assert wait_for(lambda: [_share(g) for g in gateways[:2]] == [3, 3], 5), [_share(g) for g in gateways]
