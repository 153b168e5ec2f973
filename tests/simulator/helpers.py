"""Small helpers shared by the simulator tests."""

from __future__ import annotations

import json
from typing import Any

import httpx

CHAT_PATH = "/v1/chat/completions"


def chat_body(content: str = "Hello there, how are you?", **fields: Any) -> dict[str, Any]:
    """A chat request for the default generation model."""
    body: dict[str, Any] = {"model": "test-model", "messages": [{"role": "user", "content": content}]}
    body.update(fields)
    return body


def sse_events(raw: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order (asserting the framing on the way)."""
    assert raw.endswith("\n\n"), "every event ends with a blank line"
    events = []
    for block in raw.split("\n\n")[:-1]:
        assert block.startswith("data: "), f"unexpected SSE block {block!r}"
        events.append(block.removeprefix("data: "))
    return events


def json_events(raw: str) -> list[dict[str, Any]]:
    """The JSON events of a stream, checking it ends with exactly one ``[DONE]``."""
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    assert events.count("[DONE]") == 1
    return [json.loads(event) for event in events[:-1]]


def stats(client: httpx.Client) -> dict[str, int]:
    """``/sim/stats``."""
    response = client.get("/sim/stats")
    response.raise_for_status()
    result: dict[str, int] = response.json()
    return result


def metric_value(metrics_text: str, series: str) -> float:
    """The value of one exact series line (name plus labels) in a ``/metrics`` body."""
    for line in metrics_text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"series {series} not found")
