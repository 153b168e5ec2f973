"""Admission at saturation through a real gateway and simulators: capacity per backend, the gateway's
own queues, their classes and limits, the priority header, disconnects, and vLLM's `priority` field."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import (
    SOLO_MODEL,
    RunningGateway,
    issue_key,
    last_request,
    running_gateway,
    running_simulator,
    sim_stats,
)
from tests.waiting import wait_for

# 20 tokens of 25 ms: each request holds its backend slot for about half a second.
_SLOW: dict[str, Any] = {"ttft_ms": 0.0, "itl_ms": 25.0}
_TOKENS = 20


def _body(text: str = "Bonjour", **extra: Any) -> dict[str, Any]:
    return {
        "model": SOLO_MODEL,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": _TOKENS,
        **extra,
    }


def _post(
    gateway: RunningGateway, key: str, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    return httpx.post(
        f"{gateway.v1}/chat/completions",
        json=_body(**body),
        headers={"authorization": f"Bearer {key}", **(headers or {})},
        timeout=30,
    )


def _waiting(gateway: RunningGateway) -> int:
    return gateway.state.admission.queues[SOLO_MODEL].queue.length


@pytest.fixture
def one_slot() -> Iterator[tuple[str, RunningGateway]]:
    """A simulator that runs one request at a time, and a gateway that knows it."""
    with (
        running_simulator(SOLO_MODEL, max_num_seqs=1, **_SLOW) as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim, "max_concurrent": 1}]}],
            admission={
                "departments": {"urgent": "interactive"},
                "classes": {"batch": {"max_wait_seconds": 1.0, "max_queue_length": 2}},
            },
            metrics={"allow_anonymous": True},
        ) as gateway,
    ):
        yield sim, gateway


def test_requests_wait_in_the_gateway_not_in_vllm(one_slot: tuple[str, RunningGateway]) -> None:
    sim, gateway = one_slot
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: _post(gateway, gateway.api_key, text=f"q{i}"), range(4)))
    assert [answer.status_code for answer in answers] == [200] * 4
    waits = sorted(int(answer.headers["x-gateway-queue-ms"]) for answer in answers)
    assert waits[0] < 100 and waits[-1] >= 800, waits  # the last one waited for three others
    stats = sim_stats(sim)
    assert stats["peak_running"] == 1 and stats["peak_waiting"] == 0, stats
    assert _waiting(gateway) == 0


def test_interactive_goes_before_standard(one_slot: tuple[str, RunningGateway]) -> None:
    _, gateway = one_slot
    config = gateway.state.config
    urgent = issue_key(config, "urgent", "desk")
    finished: list[str] = []
    lock = threading.Lock()

    def send(key: str, name: str, headers: dict[str, str] | None = None) -> int:
        status = _post(gateway, key, headers, text=name).status_code
        with lock:
            finished.append(name)
        return status

    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(send, gateway.api_key, "running")
        assert wait_for(lambda: gateway.state.backends[0].in_flight == 1, 5)
        standard = pool.submit(send, gateway.api_key, "standard")
        assert wait_for(lambda: _waiting(gateway) == 1, 5)
        interactive = pool.submit(send, urgent, "interactive")
        assert first.result() == standard.result() == interactive.result() == 200
    assert finished == ["running", "interactive", "standard"]


def test_a_full_class_queue_is_refused_with_retry_after(one_slot: tuple[str, RunningGateway]) -> None:
    _, gateway = one_slot
    batch = {"x-gateway-priority": "batch"}
    with ThreadPoolExecutor(5) as pool:
        running = pool.submit(_post, gateway, gateway.api_key, text="running")
        assert wait_for(lambda: gateway.state.backends[0].in_flight == 1, 5)
        queued = [pool.submit(_post, gateway, gateway.api_key, batch, text=f"b{i}") for i in range(2)]
        assert wait_for(lambda: _waiting(gateway) == 2, 5)
        refused = _post(gateway, gateway.api_key, batch, text="one too many")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "pool_saturated"
        assert refused.headers["retry-after"] == "1"
        assert running.result().status_code == 200
        # The second batch request waits behind the first: more than its one second.
        statuses = sorted(future.result().status_code for future in queued)
    assert statuses == [200, 429]
    metrics = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    labels = 'class="batch",department="dgfip",model="llama-3.1-8b"'
    assert f'gateway_admission_shed_total{{{labels},reason="queue_full"}} 1.0' in metrics
    assert f'gateway_admission_shed_total{{{labels},reason="max_wait"}} 1.0' in metrics
    assert "gateway_admission_wait_seconds_bucket" in metrics


def test_the_header_lowers_the_class_never_raises_it(one_slot: tuple[str, RunningGateway]) -> None:
    _, gateway = one_slot
    wrong = _post(gateway, gateway.api_key, {"x-gateway-priority": "urgent"})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "invalid_priority"
    # A `standard` caller that asks for `interactive` stays `standard`: the batch limit shows it.
    config = gateway.state.config
    from gateway.admission.classes import request_rank
    from gateway.identity import Principal

    principal = Principal("k", "dgfip", "svc", ("user",))
    assert request_rank(config.admission, principal, "interactive") == 1
    assert request_rank(config.admission, principal, "batch") == 2
    assert request_rank(config.admission, Principal("k", "urgent", "desk", ()), "Standard") == 1


def test_a_client_that_leaves_the_queue_frees_its_place(one_slot: tuple[str, RunningGateway]) -> None:
    sim, gateway = one_slot
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(_post, gateway, gateway.api_key, text="running")
        assert wait_for(lambda: gateway.state.backends[0].in_flight == 1, 5)
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{gateway.v1}/chat/completions",
                json=_body(text="impatient"),
                headers=gateway.headers,
                timeout=httpx.Timeout(5, read=0.15),
            )
        assert wait_for(lambda: _waiting(gateway) == 0, 1.0), "the request stayed queued"
        assert running.result().status_code == 200
    assert wait_for(lambda: sim_stats(sim)["running"] == 0, 5)
    assert sim_stats(sim)["requests"] == 1  # the impatient request never reached the backend


def test_affinity_yields_to_a_backend_with_room() -> None:
    with (
        running_simulator(SOLO_MODEL, max_num_seqs=1, **_SLOW) as sim_a,
        running_simulator(SOLO_MODEL, max_num_seqs=1, **_SLOW) as sim_b,
        running_gateway(
            [
                {
                    "name": SOLO_MODEL,
                    "backends": [{"url": sim_a, "max_concurrent": 1}, {"url": sim_b, "max_concurrent": 1}],
                }
            ]
        ) as gateway,
        ThreadPoolExecutor(2) as pool,
    ):
        # The same conversation twice at once: affinity prefers one backend, which is then full.
        answers = list(
            pool.map(lambda _: _post(gateway, gateway.api_key, text="même conversation"), range(2))
        )
        assert [answer.status_code for answer in answers] == [200, 200]
        assert sim_stats(sim_a)["requests"] == 1 and sim_stats(sim_b)["requests"] == 1
        assert all(answer.headers["x-gateway-queue-ms"] == "0" for answer in answers)


def test_vllm_priority_follows_the_class_on_priority_backends() -> None:
    with (
        running_simulator(SOLO_MODEL, scheduling_policy="priority") as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim, "scheduling_policy": "priority"}]}],
            admission={"services": {"dgfip/assistant-courrier": "batch"}},
        ) as gateway,
    ):
        # The client's own `priority` cannot jump vLLM's queue: the class's value replaces it.
        answer = _post(gateway, gateway.api_key, {"x-gateway-priority": "interactive"}, priority=-50)
        assert answer.status_code == 200
        assert json.loads(last_request(sim)["body"])["priority"] == 2
    with (
        running_simulator(SOLO_MODEL) as sim,
        running_gateway([{"name": SOLO_MODEL, "backends": [{"url": sim}]}]) as gateway,
    ):
        assert _post(gateway, gateway.api_key).status_code == 200
        assert "priority" not in json.loads(last_request(sim)["body"])  # an fcfs backend would refuse it


def test_no_reservation_is_held_while_waiting() -> None:
    with (
        running_simulator(SOLO_MODEL, max_num_seqs=1, **_SLOW) as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim, "max_concurrent": 1}]}],
            quotas={"departments": {"dgfip": {"max_concurrent": 2}}},
        ) as gateway,
        ThreadPoolExecutor(4) as pool,
    ):
        # Four requests, a department limit of two in progress: the waiting ones hold none of it.
        answers = list(pool.map(lambda i: _post(gateway, gateway.api_key, text=f"q{i}"), range(4)))
        assert [answer.status_code for answer in answers] == [200] * 4


def test_queue_wait_is_lost_when_the_last_backend_goes_down() -> None:
    with (
        running_simulator(SOLO_MODEL, max_num_seqs=1, **_SLOW) as sim,
        running_gateway([{"name": SOLO_MODEL, "backends": [{"url": sim, "max_concurrent": 1}]}]) as gateway,
        ThreadPoolExecutor(2) as pool,
    ):
        backend = gateway.state.backends[0]
        running = pool.submit(_post, gateway, gateway.api_key, text="running")
        assert wait_for(lambda: backend.in_flight == 1, 5)
        queued = pool.submit(_post, gateway, gateway.api_key, text="queued")
        assert wait_for(lambda: _waiting(gateway) == 1, 5)
        httpx.post(f"{sim}/sim/dead", json={"dead": True}, timeout=5)
        started = time.monotonic()
        answer = queued.result()
        assert answer.status_code == 503, answer.text
        assert time.monotonic() - started < 5
        running.result()


def test_lower_classes_leave_headroom_while_interactive_is_active() -> None:
    with (
        running_simulator(SOLO_MODEL, max_num_seqs=4, **_SLOW) as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim, "max_concurrent": 4}]}],
            admission={"departments": {"urgent": "interactive"}, "classes": {"batch": {"headroom": 0.25}}},
        ) as gateway,
        ThreadPoolExecutor(6) as pool,
    ):
        urgent = issue_key(gateway.state.config, "urgent", "desk")
        backend = gateway.state.backends[0]
        assert _post(gateway, urgent, text="first").status_code == 200  # interactive is now active
        batch = [
            pool.submit(_post, gateway, gateway.api_key, {"x-gateway-priority": "batch"}, text=f"b{i}")
            for i in range(4)
        ]
        assert wait_for(lambda: backend.in_flight == 3 and _waiting(gateway) == 1, 5), (
            backend.in_flight,
            _waiting(gateway),
        )
        # The slot batch left free is there at once for an interactive request.
        quick = _post(gateway, urgent, text="second")
        assert quick.status_code == 200 and quick.headers["x-gateway-queue-ms"] == "0"
        assert [future.result().status_code for future in batch] == [200] * 4


def test_the_console_shows_the_gateway_queue(one_slot: tuple[str, RunningGateway]) -> None:
    from tests.console.conftest import sign_in

    _, gateway = one_slot
    admin = issue_key(gateway.state.config, "dinum", "plateforme", "admin")
    with ThreadPoolExecutor(2) as pool, httpx.Client(timeout=10) as client:
        assert sign_in(client, f"{gateway.url}/console", admin).status_code == 303
        idle = client.get(f"{gateway.url}/console/backends").text
        assert "Aucune requête n&#39;attend" in idle
        running = pool.submit(_post, gateway, gateway.api_key, text="running")
        assert wait_for(lambda: gateway.state.backends[0].in_flight == 1, 5)
        queued = pool.submit(_post, gateway, gateway.api_key, {"x-gateway-priority": "batch"}, text="queued")
        assert wait_for(lambda: _waiting(gateway) == 1, 5)
        page = client.get(f"{gateway.url}/console/backends").text
        assert "File d&#39;attente de la passerelle" in page
        row = page[page.index('<table class="admission">') :]
        assert "<td>lots</td>" in row and '<th scope="row">dgfip</th>' in row
        assert running.result().status_code == 200 and queued.result().status_code == 200
