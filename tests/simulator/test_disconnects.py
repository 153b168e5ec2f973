"""Client disconnects abort the request; ``x-sim-break-after`` drops the connection mid-stream."""

from __future__ import annotations

import httpx
import pytest

from tests.simulator.conftest import StartSimulator
from tests.simulator.helpers import CHAT_PATH, chat_body, metric_value, stats
from tests.waiting import wait_for

ABORT_SERIES = 'vllm:request_success_total{engine="0",finished_reason="abort",model_name="test-model"}'


def test_closing_a_stream_aborts_the_request(start_simulator: StartSimulator) -> None:
    base_url = start_simulator(itl_ms=20.0)
    with httpx.Client(base_url=base_url, timeout=10.0) as http:
        with http.stream("POST", CHAT_PATH, json=chat_body(stream=True, max_tokens=500)) as response:
            lines = response.iter_lines()  # keep the iterator: dropping it would close the connection
            assert next(lines).startswith("data: ")
            assert stats(http)["running"] == 1
        # Leaving the block closed the connection long before 500 tokens at 20 ms each.

        assert wait_for(lambda: stats(http)["aborted"] == 1, 5.0)
        assert stats(http)["running"] == 0
        assert stats(http)["completed"] == 0
        assert metric_value(http.get("/metrics").text, ABORT_SERIES) == 1.0


def test_disconnect_during_a_non_streamed_wait_aborts(start_simulator: StartSimulator) -> None:
    base_url = start_simulator()
    with httpx.Client(base_url=base_url, timeout=10.0) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.post(CHAT_PATH, json=chat_body(), headers={"x-sim-delay-ms": "5000"}, timeout=0.3)

        assert wait_for(lambda: stats(http)["aborted"] == 1, 5.0)
        assert stats(http)["running"] == 0


def _collect_lines(client: httpx.Client, lines: list[str], headers: dict[str, str]) -> None:
    body = chat_body(stream=True, max_tokens=20)
    with client.stream("POST", CHAT_PATH, json=body, headers=headers) as response:
        lines.extend(line for line in response.iter_lines() if line)


def test_break_after_drops_the_connection(client: httpx.Client) -> None:
    events: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        _collect_lines(client, events, {"x-sim-break-after": "3"})

    assert len(events) == 3
    assert "data: [DONE]" not in events
    assert wait_for(lambda: stats(client)["running"] == 0, 5.0)


def test_break_after_longer_than_the_stream_changes_nothing(client: httpx.Client) -> None:
    with client.stream(
        "POST", CHAT_PATH, json=chat_body(stream=True, max_tokens=2), headers={"x-sim-break-after": "100"}
    ) as response:
        raw = response.read().decode()

    assert raw.endswith("data: [DONE]\n\n")
