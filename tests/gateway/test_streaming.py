"""SSE relay: vLLM's format kept, the gateway's usage chunk stripped, disconnects reaching the backend."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from tests.gateway.conftest import CHAT_MODEL, SOLO_MODEL, running_gateway, running_simulator, sim_stats
from tests.waiting import wait_for


def _events(body: bytes) -> list[bytes]:
    assert body.endswith(b"\n\n")
    return [event for event in body.split(b"\n\n") if event]


def _stream(
    url: str, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[httpx.Response, list[bytes]]:
    with httpx.stream(
        "POST", f"{url}/v1/chat/completions", json=payload, headers=headers, timeout=10
    ) as response:
        body = response.read()
    return response, _events(body)


def test_stream_format_matches_vllm() -> None:
    with (
        running_simulator(SOLO_MODEL) as sim,
        running_gateway([{"name": SOLO_MODEL, "backends": [{"url": sim}]}]) as gw,
    ):
        payload = {"model": SOLO_MODEL, "messages": [{"role": "user", "content": "un deux"}], "stream": True}
        response, events = _stream(gw.url, payload, gw.headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-request-id"].startswith("req-")
        assert all(event.startswith(b"data: ") for event in events)
        assert events[-1] == b"data: [DONE]"
        first = msgspec.json.decode(events[0][6:])
        assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        chunks = [msgspec.json.decode(event[6:]) for event in events[:-1]]
        assert all(chunk["choices"] for chunk in chunks), "no usage chunk unless the client asked"

        _, direct_events = _stream(sim, {**payload, "stream_options": {"include_usage": True}})
        _, relayed_events = _stream(
            gw.url, {**payload, "stream_options": {"include_usage": True}}, gw.headers
        )
        usage_chunk = msgspec.json.decode(relayed_events[-2][6:])
        assert usage_chunk["choices"] == []
        assert usage_chunk["usage"]["completion_tokens"] > 0
        # Same number of events as vLLM itself sends: nothing merged, nothing invented.
        assert len(relayed_events) == len(direct_events)


def test_client_disconnect_aborts_the_backend_request() -> None:
    # 50 ms per token and 200 tokens: the stream would last 10 s if nobody stopped it.
    with (
        running_simulator(SOLO_MODEL, itl_ms=50.0) as sim,
        running_gateway([{"name": SOLO_MODEL, "backends": [{"url": sim}]}]) as gw,
    ):
        payload = {
            "model": SOLO_MODEL,
            "messages": [{"role": "user", "content": "raconte"}],
            "stream": True,
            "max_tokens": 200,
        }
        with httpx.stream(
            "POST", f"{gw.url}/v1/chat/completions", json=payload, headers=gw.headers, timeout=10
        ) as response:
            for _ in response.iter_raw():
                break  # read one piece, then hang up
        assert wait_for(lambda: sim_stats(sim)["aborted"] == 1, 5.0), sim_stats(sim)
        assert sim_stats(sim)["running"] == 0
        assert wait_for(lambda: gw.state.backends[0].in_flight == 0, 2.0)


def test_backend_failing_mid_stream_is_not_retried() -> None:
    with (
        running_simulator(CHAT_MODEL) as sim_a,
        running_simulator(CHAT_MODEL) as sim_b,
        running_gateway([{"name": CHAT_MODEL, "backends": [{"url": sim_a}, {"url": sim_b}]}]) as gw,
    ):
        payload = {
            "model": CHAT_MODEL,
            "messages": [{"role": "user", "content": "casse-toi en route"}],
            "stream": True,
            "max_tokens": 20,
            "vllm_xargs": {"sim_break_after": 3},
        }
        response, events = _stream(gw.url, payload, gw.headers)
        assert response.status_code == 200
        error = msgspec.json.decode(events[-2][6:])
        assert error["error"]["code"] == "upstream_error"
        assert events[-1] == b"data: [DONE]"
        total = sim_stats(sim_a)["requests"] + sim_stats(sim_b)["requests"]
        assert total == 1, "a stream that already sent events must never be replayed on another backend"
