"""Per-model timeouts, and clients that leave before a non-streamed answer is ready."""

from __future__ import annotations

import time

import httpx
import msgspec
import pytest

from tests.gateway.conftest import SOLO_MODEL, running_gateway, running_simulator, sim_stats
from tests.waiting import wait_for


def _payload(**extra: object) -> dict[str, object]:
    return {"model": SOLO_MODEL, "messages": [{"role": "user", "content": "attends"}], **extra}


def test_first_byte_timeout_is_504_and_not_retried() -> None:
    with running_simulator(SOLO_MODEL) as sim_a, running_simulator(SOLO_MODEL) as sim_b:
        models = [
            {
                "name": SOLO_MODEL,
                "backends": [{"url": sim_a}, {"url": sim_b}],
                "timeouts": {"first_byte": 0.3},
            }
        ]
        with running_gateway(models) as gw:
            started = time.monotonic()
            response = httpx.post(
                f"{gw.url}/v1/chat/completions",
                headers=gw.headers,
                json=_payload(max_tokens=2, vllm_xargs={"sim_delay_ms": 3000}),
                timeout=10,
            )
            assert response.status_code == 504
            assert response.json()["error"]["code"] == "upstream_timeout"
            assert time.monotonic() - started < 2.5
        requests = sim_stats(sim_a)["requests"] + sim_stats(sim_b)["requests"]
        assert requests == 1, "a backend that may still be generating must not get a twin elsewhere"


def test_idle_timeout_ends_a_silent_stream_with_an_error_event() -> None:
    with running_simulator(SOLO_MODEL, itl_ms=600.0) as sim:
        models = [{"name": SOLO_MODEL, "backends": [{"url": sim}], "timeouts": {"idle": 0.2}}]
        with (
            running_gateway(models) as gw,
            httpx.stream(
                "POST",
                f"{gw.url}/v1/chat/completions",
                json=_payload(stream=True, max_tokens=5),
                headers=gw.headers,
                timeout=10,
            ) as response,
        ):
            body = response.read()
        events = [event for event in body.split(b"\n\n") if event]
        assert events[-1] == b"data: [DONE]"
        error = msgspec.json.decode(events[-2][6:])
        assert error["error"]["code"] == "upstream_timeout"
        assert wait_for(lambda: sim_stats(sim)["aborted"] == 1, 5.0), (
            "the silent backend was not told to stop"
        )


@pytest.mark.parametrize("stream", [False, True])
def test_client_leaving_before_the_answer_aborts_the_backend(stream: bool) -> None:
    # 200 tokens at 50 ms: ten seconds of GPU time that nobody will read.
    with (
        running_simulator(SOLO_MODEL, itl_ms=50.0) as sim,
        running_gateway([{"name": SOLO_MODEL, "backends": [{"url": sim}]}]) as gw,
    ):
        payload = _payload(max_tokens=200, stream=stream, vllm_xargs={"sim_delay_ms": 300})
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{gw.url}/v1/chat/completions", json=payload, headers=gw.headers, timeout=0.15)
        assert wait_for(lambda: sim_stats(sim)["aborted"] == 1, 5.0), sim_stats(sim)
        assert wait_for(lambda: gw.state.backends[0].in_flight == 0, 2.0)
        # The gateway is unharmed and serves the next request.
        response = httpx.post(
            f"{gw.url}/v1/chat/completions", json=_payload(max_tokens=1), headers=gw.headers, timeout=10
        )
        assert response.status_code == 200
