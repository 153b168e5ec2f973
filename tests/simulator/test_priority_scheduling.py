"""vLLM's `--scheduling-policy priority`: the waiting queue by `priority` (lower first), then arrival;
under the default `fcfs`, a non-zero `priority` is refused as vLLM refuses it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from backends.simulator.cli import settings_from_args
from tests.simulator.conftest import GENERATION_MODEL, StartSimulator
from tests.waiting import wait_for


def _chat(url: str, text: str, **extra: object) -> httpx.Response:
    body = {"model": GENERATION_MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": 10}
    return httpx.post(f"{url}/v1/chat/completions", json={**body, **extra}, timeout=30)


def _stats(url: str) -> dict[str, int]:
    stats: dict[str, int] = httpx.get(f"{url}/sim/stats", timeout=5).json()
    return stats


def _waiting_reaches(url: str, expected: int) -> Callable[[], bool]:
    return lambda: _stats(url)["waiting"] == expected


def test_waiting_requests_run_by_priority_then_arrival(start_simulator: StartSimulator) -> None:
    url = start_simulator(max_num_seqs=1, itl_ms=30.0, scheduling_policy="priority")
    finished: list[str] = []
    lock = threading.Lock()

    def send(name: str, priority: int) -> int:
        status = _chat(url, name, priority=priority).status_code
        with lock:
            finished.append(name)
        return status

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(send, "running", 0)]
        assert wait_for(lambda: _stats(url)["running"] == 1, 5)
        for count, (name, priority) in enumerate(
            (("late-batch", 5), ("first-normal", 1), ("second-normal", 1))
        ):
            futures.append(pool.submit(send, name, priority))
            assert wait_for(_waiting_reaches(url, count + 1), 5)
        assert [future.result() for future in futures] == [200] * 4
    assert finished == ["running", "first-normal", "second-normal", "late-batch"]
    assert _stats(url)["peak_waiting"] == 3


def test_fcfs_refuses_a_priority(start_simulator: StartSimulator) -> None:
    url = start_simulator()
    refused = _chat(url, "Bonjour", priority=2)
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "Got priority 2 but Priority scheduling is not enabled."
    assert _chat(url, "Bonjour", priority=0).status_code == 200
    completion = httpx.post(
        f"{url}/v1/completions",
        json={"model": GENERATION_MODEL, "prompt": "Bonjour", "priority": -1},
        timeout=10,
    )
    assert completion.status_code == 400


def test_the_flag_sets_the_policy() -> None:
    assert settings_from_args(["--port", "1", "--model", "m"]).scheduling_policy == "fcfs"
    chosen = settings_from_args(["--port", "1", "--model", "m", "--scheduling-policy", "priority"])
    assert chosen.scheduling_policy == "priority"
