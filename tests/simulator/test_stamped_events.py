"""``--stamp-events``: streamed tokens carry their send time, everything else stays vLLM's."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx

from backends.simulator.cli import settings_from_args
from tests.simulator.conftest import StartSimulator
from tests.simulator.helpers import CHAT_PATH, chat_body, json_events

STAMP = re.compile(r" @(\d+)")
TOKENS = 12
# Generous: the stamp is taken microseconds before the send, but a loaded test machine may stall.
CLOSE_ENOUGH_NS = 1_000_000_000


def stamp_of(text: str) -> int:
    match = STAMP.fullmatch(text)
    assert match is not None, f"not a stamp: {text!r}"
    return int(match.group(1))


def stamped_stream(
    client: httpx.Client, path: str, body: dict[str, Any]
) -> tuple[int, list[tuple[str, int]]]:
    """The client's clock before sending, and every SSE line with the client's clock as it arrived."""
    sent_at = time.monotonic_ns()
    lines = []
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            lines.append((line, time.monotonic_ns()))
    return sent_at, lines


def check_stamps(stamps: list[tuple[int, int]], sent_at: int) -> None:
    """(stamp, arrival) pairs: increasing, after the request left, before and close to their arrival."""
    assert len(stamps) == TOKENS
    values = [stamp for stamp, _ in stamps]
    assert values == sorted(values) and len(set(values)) == len(values)
    for stamp, arrived in stamps:
        assert sent_at <= stamp <= arrived
        assert arrived - stamp < CLOSE_ENOUGH_NS


def test_the_flag_maps_onto_the_setting() -> None:
    assert settings_from_args(["--port", "9000", "--model", "m", "--stamp-events"]).stamp_events is True
    assert settings_from_args(["--port", "9000", "--model", "m"]).stamp_events is False


def test_chat_stream_tokens_carry_their_send_time(start_simulator: StartSimulator) -> None:
    base_url = start_simulator(stamp_events=True, itl_ms=2.0)
    body = chat_body(stream=True, max_tokens=TOKENS, stream_options={"include_usage": True})
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        sent_at, lines = stamped_stream(client, CHAT_PATH, body)

    raw = "".join(line + "\n" for line, _ in lines)
    events = json_events(raw)  # the framing is vLLM's: data lines, blank lines, one [DONE]
    role, *tokens, usage = events
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == TOKENS
    assert tokens[-1]["choices"][0]["finish_reason"] == "length"
    arrivals = [arrived for line, arrived in lines if '"content":" @' in line]
    check_stamps(
        [
            (stamp_of(event["choices"][0]["delta"]["content"]), arrived)
            for event, arrived in zip(tokens, arrivals, strict=True)
        ],
        sent_at,
    )


def test_completion_stream_tokens_carry_their_send_time(start_simulator: StartSimulator) -> None:
    base_url = start_simulator(stamp_events=True, itl_ms=1.0)
    body = {"model": "test-model", "prompt": "Once upon a time", "max_tokens": TOKENS, "stream": True}
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        sent_at, lines = stamped_stream(client, "/v1/completions", body)

    chunks = [(json.loads(line[6:]), arrived) for line, arrived in lines if line.startswith("data: {")]
    check_stamps([(stamp_of(chunk["choices"][0]["text"]), arrived) for chunk, arrived in chunks], sent_at)
    assert chunks[-1][0]["choices"][0]["finish_reason"] == "length"


def test_responses_stream_text_is_the_stamps_it_sent(start_simulator: StartSimulator) -> None:
    base_url = start_simulator(stamp_events=True, itl_ms=1.0)
    body = {"model": "test-model", "input": "Hello", "max_output_tokens": TOKENS, "stream": True}
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        sent_at, lines = stamped_stream(client, "/v1/responses", body)

    events = [(json.loads(line[6:]), arrived) for line, arrived in lines if line.startswith("data: ")]
    deltas = [(event, arrived) for event, arrived in events if event["type"] == "response.output_text.delta"]
    check_stamps([(stamp_of(event["delta"]), arrived) for event, arrived in deltas], sent_at)
    # The closing events and the final response repeat exactly the text the deltas sent.
    text = "".join(event["delta"] for event, _ in deltas)
    done = next(event for event, _ in events if event["type"] == "response.output_text.done")
    final = events[-1][0]
    assert done["text"] == text
    assert (final["type"], final["response"]["status"]) == ("response.completed", "incomplete")
    assert final["response"]["output"][0]["content"][0]["text"] == text


def test_streams_are_unstamped_by_default(client: httpx.Client) -> None:
    response = client.post(CHAT_PATH, json=chat_body(stream=True, max_tokens=TOKENS))

    contents = [event["choices"][0]["delta"].get("content", "") for event in json_events(response.text)]
    assert not any(STAMP.fullmatch(content) for content in contents)
