"""Routing over real simulators: load, prefix affinity, saturation, ejection, recovery and retries."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from gateway.routing.backend import Backend
from tests.gateway.conftest import (
    CHAT_MODEL,
    SOLO_MODEL,
    RunningGateway,
    running_gateway,
    running_simulator,
    sim_stats,
)
from tests.servers import free_port
from tests.waiting import wait_for


def _chat(
    gw: RunningGateway, content: str, *, opening: str = "", follow_up: str = "", max_tokens: int = 1
) -> httpx.Response:
    """One chat turn; with `follow_up`, a later turn of the conversation that `content` opened."""
    messages = [{"role": "system", "content": opening}] if opening else []
    messages.append({"role": "user", "content": content})
    if follow_up:
        messages += [{"role": "assistant", "content": "Bien reçu."}, {"role": "user", "content": follow_up}]
    return httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers=gw.headers,
        json={"model": CHAT_MODEL, "messages": messages, "max_tokens": max_tokens},
        timeout=10,
    )


def _requests(sim: str) -> int:
    count: int = sim_stats(sim)["requests"]
    return count


@contextmanager
def _keep_busy(sim: str, count: int, max_tokens: int) -> Iterator[None]:
    """Send slow requests straight to a simulator (as other clients would) and wait for them at the end."""
    payload = {"model": CHAT_MODEL, "prompt": "occupé", "max_tokens": max_tokens}

    def send() -> None:
        httpx.post(f"{sim}/v1/completions", json=payload, timeout=30)

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for thread in threads:
            thread.join(timeout=30)


def test_idle_backends_share_the_work() -> None:
    with running_simulator() as sim_a, running_simulator() as sim_b:
        models = [
            {
                "name": CHAT_MODEL,
                "backends": [{"url": sim_a}, {"url": sim_b}],
                "routing": {"prefix_affinity": False},
            }
        ]
        with running_gateway(models) as gw:
            for index in range(20):
                assert _chat(gw, f"question {index}").status_code == 200
        assert _requests(sim_a) >= 5 and _requests(sim_b) >= 5, (_requests(sim_a), _requests(sim_b))


def test_load_follows_the_backend_queue_depth() -> None:
    # sim_a runs one request at a time; three slow direct requests leave two of them queued there.
    with running_simulator(max_num_seqs=1, itl_ms=20.0) as sim_a, running_simulator() as sim_b:
        models = [
            {
                "name": CHAT_MODEL,
                "backends": [{"url": sim_a}, {"url": sim_b}],
                "routing": {"prefix_affinity": False},
            }
        ]
        with running_gateway(models) as gw, _keep_busy(sim_a, count=3, max_tokens=60):
            backend_a = gw.state.backends[0]
            assert wait_for(lambda: backend_a.waiting > 0, 3.0), "the gateway never saw sim_a's queue"
            before = _requests(sim_a)
            for index in range(10):
                assert _chat(gw, f"question {index}").status_code == 200
            assert _requests(sim_a) == before, "requests went to the backend whose queue was full"


def test_prefix_affinity_holds_until_saturation() -> None:
    with (
        running_simulator(max_num_seqs=1, itl_ms=20.0) as sim_a,
        running_simulator(max_num_seqs=1, itl_ms=20.0) as sim_b,
    ):
        models = [{"name": CHAT_MODEL, "backends": [{"url": sim_a}, {"url": sim_b}]}]
        opening = "Tu es l'assistant du service courrier de la DGFiP. " * 4
        with running_gateway(models) as gw:
            for turn in range(8):
                reply = _chat(
                    gw, "Bonjour, voici mon dossier", opening=opening, follow_up=f"Et la pièce {turn} ?"
                )
                assert reply.status_code == 200
            counts = {sim_a: _requests(sim_a), sim_b: _requests(sim_b)}
            assert sorted(counts.values()) == [0, 8], f"one conversation was split over backends: {counts}"
            preferred = max(counts, key=lambda url: counts[url])
            other = sim_b if preferred == sim_a else sim_a
            preferred_backend = next(b for b in gw.state.backends if b.url == preferred)
            with _keep_busy(preferred, count=3, max_tokens=60):
                assert wait_for(lambda: preferred_backend.waiting > 0, 3.0)
                before = _requests(other)
                reply = _chat(gw, "Bonjour, voici mon dossier", opening=opening, follow_up="Et la dernière ?")
                assert reply.status_code == 200
                assert _requests(other) == before + 1, "affinity did not yield to a saturated backend"


def test_killed_backend_is_ejected_and_a_restarted_one_comes_back() -> None:
    port_a = free_port()
    with contextlib.ExitStack() as stack:
        sim_b = stack.enter_context(running_simulator())
        with running_simulator(port=port_a) as sim_a:
            models = [
                {
                    "name": CHAT_MODEL,
                    "backends": [{"url": sim_a}, {"url": sim_b}],
                    "routing": {"prefix_affinity": False},
                }
            ]
            gw = stack.enter_context(running_gateway(models))
        # sim_a is gone now (the gateway outlives it): every request must still succeed, on sim_b.
        backend_a: Backend = gw.state.backends[0]
        for index in range(6):
            assert _chat(gw, f"q{index}").status_code == 200
        assert not backend_a.healthy
        ready = httpx.get(f"{gw.url}/health/ready", timeout=5)
        assert ready.status_code == 200
        with running_simulator(port=port_a) as sim_a_again:
            assert wait_for(lambda: backend_a.healthy, 5.0), "the restarted backend never came back"
            for index in range(10):
                assert _chat(gw, f"r{index}").status_code == 200
            assert _requests(sim_a_again) > 0


def test_server_errors_are_retried_elsewhere_and_eject_the_backend() -> None:
    with running_simulator(error_rate=1.0) as broken, running_simulator() as sound:
        models = [
            {
                "name": CHAT_MODEL,
                "backends": [{"url": broken}, {"url": sound}],
                "routing": {"prefix_affinity": False},
            }
        ]
        with running_gateway(models) as gw:
            for index in range(8):
                response = _chat(gw, f"q{index}")
                assert response.status_code == 200, response.text
            broken_backend = gw.state.backends[0]
            assert broken_backend.ejections >= 1
            assert [backend.in_flight for backend in gw.state.backends] == [0, 0], "a failed attempt leaked"
            assert _requests(sound) == 8


def test_queue_full_is_retried_elsewhere_without_ejection() -> None:
    # No load scraping: the gateway cannot know sim_a is full, so some attempts meet its 503.
    with running_simulator(max_num_seqs=1, max_queue=0, itl_ms=20.0) as sim_a, running_simulator() as sim_b:
        models = [
            {
                "name": CHAT_MODEL,
                "backends": [{"url": sim_a}, {"url": sim_b}],
                "routing": {"prefix_affinity": False},
            }
        ]
        health = {"interval": 5, "metrics_interval": 0, "eject_after": 1}
        with running_gateway(models, health=health) as gw, _keep_busy(sim_a, count=1, max_tokens=100):
            assert wait_for(lambda: sim_stats(sim_a)["running"] == 1, 3.0)
            for index in range(4):
                assert _chat(gw, f"q{index}").status_code == 200
            assert gw.state.backends[0].ejections == 0, "a full queue is load, not a failure"
            assert _requests(sim_b) >= 4


def test_no_backend_left_is_503_with_retry_after() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with running_gateway([{"name": CHAT_MODEL, "backends": [{"url": dead}]}]) as gw:
        response = _chat(gw, "allô ?")
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
        error = response.json()["error"]
        assert error["code"] == "backend_unavailable"
        assert set(error) == {"message", "type", "param", "code"}
        ready = httpx.get(f"{gw.url}/health/ready", timeout=5)
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "models": {CHAT_MODEL: False}}


def test_ready_while_one_model_of_several_can_be_served() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with (
        running_simulator(SOLO_MODEL) as sim,
        running_gateway(
            [
                {"name": CHAT_MODEL, "backends": [{"url": dead}]},
                {"name": SOLO_MODEL, "backends": [{"url": sim}]},
            ]
        ) as gw,
    ):
        assert wait_for(lambda: not gw.state.pools[CHAT_MODEL].has_available(), 5.0)
        ready = httpx.get(f"{gw.url}/health/ready", timeout=5)
        assert ready.status_code == 200
        assert ready.json() == {"status": "degraded", "models": {CHAT_MODEL: False, SOLO_MODEL: True}}
