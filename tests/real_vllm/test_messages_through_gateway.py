"""Anthropic's Messages API through the gateway in front of real vLLM: answers, streams and counts as
vLLM gives them, and usage records equal to vLLM's own token counters.

Anthropic's SDK is not a test dependency: its requests (`x-api-key`, `anthropic-version`) and its
reading of named events are reproduced with httpx.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import DEPARTMENT, RunningGateway, issue_key
from tests.real_vllm.metrics import counter
from tests.real_vllm.servers import GENERATE_MODEL, STARTUP_SECONDS, VllmServers
from tests.waiting import wait_for

pytestmark = [pytest.mark.real_vllm, pytest.mark.timeout(STARTUP_SECONDS + 120)]

MESSAGES = [{"role": "user", "content": "Résume ce courrier de la préfecture."}]


def _stream_events(url: str, body: dict[str, Any], headers: dict[str, str]) -> list[tuple[str, Any]]:
    with httpx.stream("POST", url, json={**body, "stream": True}, headers=headers, timeout=60) as response:
        assert response.status_code == 200, response.read()
        text = response.read().decode()
    events = []
    for block in text.split("\n\n"):
        if block.strip():
            lines = dict(line.split(": ", 1) for line in block.split("\n"))
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def _prompt(usage: dict[str, Any]) -> int:
    """The prompt's tokens: vLLM leaves the prefix-cache tokens out of `input_tokens`, as Anthropic does."""
    fields = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    return sum(int(usage.get(field) or 0) for field in fields)


def test_messages_create_stream_and_count_are_metered(gateway: RunningGateway, vllm: VllmServers) -> None:
    service = f"messages-{time.monotonic_ns()}"
    headers = {
        "x-api-key": issue_key(gateway.state.config, DEPARTMENT, service),
        "anthropic-version": "2023-06-01",
    }
    metrics_url = f"{vllm.generate}/metrics"
    prompt_before = counter(httpx.get(metrics_url, timeout=10).text, "vllm:prompt_tokens_total")
    generated_before = counter(httpx.get(metrics_url, timeout=10).text, "vllm:generation_tokens_total")
    body = {"model": GENERATE_MODEL, "max_tokens": 6, "system": "Sois bref.", "messages": MESSAGES}

    answer = httpx.post(f"{gateway.v1}/messages", json=body, headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    message = answer.json()
    assert message["type"] == "message" and message["content"][0]["type"] == "text"
    assert message["stop_reason"] in {"end_turn", "max_tokens"}
    reported = [_prompt(message["usage"]), message["usage"]["output_tokens"]]

    events = _stream_events(f"{gateway.v1}/messages", body, headers)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-1] == "message_stop", names
    text = "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
    final = events[-2][1]["usage"]
    assert 0 < final["output_tokens"] <= 6 and isinstance(text, str)
    reported[0] += _prompt({**events[0][1]["message"]["usage"], **final})
    reported[1] += final["output_tokens"]

    count = httpx.post(
        f"{gateway.v1}/messages/count_tokens",
        json={"model": GENERATE_MODEL, "system": "Sois bref.", "messages": MESSAGES},
        headers=headers,
        timeout=60,
    )
    assert count.status_code == 200, count.text
    assert count.json()["input_tokens"] > 0

    missing = httpx.post(
        f"{gateway.v1}/messages",
        json={"model": GENERATE_MODEL, "messages": MESSAGES},
        headers=headers,
        timeout=60,
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["type"] == "invalid_request_error"

    metrics = httpx.get(metrics_url, timeout=10).text
    assert counter(metrics, "vllm:generation_tokens_total") - generated_before == reported[1]
    # At least: whether a count goes through the engine's prompt counter is vLLM's business.
    assert counter(metrics, "vllm:prompt_tokens_total") - prompt_before >= reported[0]

    admin = issue_key(gateway.state.config, DEPARTMENT, "console-dgfip")
    rows: list[dict[str, Any]] = []

    def recorded() -> bool:
        nonlocal rows
        report = httpx.get(
            f"{gateway.url}/admin/usage",
            params={"by": "service"},
            headers={"authorization": f"Bearer {admin}"},
            timeout=10,
        )
        rows = [row for row in report.json()["rows"] if row["service"] == service]
        return bool(rows) and rows[0]["requests"] == 3  # the refused request is not metered

    assert wait_for(recorded, seconds=10), rows
    assert [rows[0]["prompt_tokens"], rows[0]["completion_tokens"]] == reported
