"""What one request may make the gateway or a backend do is bounded: the choices it asks for, the size
of a non-streamed answer the gateway holds, the nesting it makes the gateway walk."""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway.conftest import CHAT_MODEL, Deployment, running_gateway, running_simulator, sim_stats


def _chat(gateway_v1: str, headers: dict[str, str], **fields: Any) -> httpx.Response:
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Bonjour"}], **fields}
    return httpx.post(f"{gateway_v1}/chat/completions", json=body, headers=headers, timeout=30)


def _invalid(response: httpx.Response, param: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    return error


def _generation_requests(*simulators: str) -> int:
    return sum(sim_stats(url)["requests"] for url in simulators)


def test_n_above_the_default_limit_never_reaches_a_backend(deployment: Deployment) -> None:
    gateway, simulators = deployment.gateway, (deployment.sim_a, deployment.sim_b)
    before = _generation_requests(*simulators)

    for n in (10**18, 129):
        error = _invalid(_chat(gateway.v1, gateway.headers, n=n), "n")
        assert "Expected a value <= 128" in error["message"]
    assert _generation_requests(*simulators) == before

    allowed = _chat(gateway.v1, gateway.headers, n=128, max_tokens=1)
    assert allowed.status_code == 200, allowed.text
    assert len(allowed.json()["choices"]) == 128
    assert _generation_requests(*simulators) == before + 1


def test_the_limit_on_n_is_configurable_and_applies_to_completions() -> None:
    with (
        running_simulator(CHAT_MODEL) as sim,
        running_gateway([{"name": CHAT_MODEL, "backends": [{"url": sim}]}], server={"max_choices": 4}) as gw,
    ):
        _invalid(_chat(gw.v1, gw.headers, n=5), "n")
        completion = {"model": CHAT_MODEL, "prompt": "Bonjour", "max_tokens": 1}
        refused = httpx.post(
            f"{gw.v1}/completions", json={**completion, "n": 5}, headers=gw.headers, timeout=30
        )
        _invalid(refused, "n")
        assert _generation_requests(sim) == 0
        assert _chat(gw.v1, gw.headers, n=4, max_tokens=1).status_code == 200
        allowed = httpx.post(
            f"{gw.v1}/completions", json={**completion, "n": 4}, headers=gw.headers, timeout=30
        )
        assert len(allowed.json()["choices"]) == 4
