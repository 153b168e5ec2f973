"""Anthropic's Messages API: answers, named-event streams, token counts, errors in vLLM's shapes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.simulator.conftest import StartSimulator
from tests.simulator.helpers import metric_value

MESSAGES_PATH = "/v1/messages"


def messages_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "test-model",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "Hello there"}],
    }
    body.update(fields)
    return body


def named_events(raw: str) -> list[tuple[str, dict[str, Any]]]:
    """``(event name, data)`` of each block, asserting vLLM's framing (no ``[DONE]``, no ping)."""
    assert raw.endswith("\n\n")
    events = []
    for block in raw.split("\n\n")[:-1]:
        name_line, data_line = block.split("\n")
        name = name_line.removeprefix("event: ")
        data = json.loads(data_line.removeprefix("data: "))
        assert data["type"] == name
        events.append((name, data))
    return events


def test_answer_has_anthropics_shape(client: httpx.Client) -> None:
    answer = client.post(MESSAGES_PATH, json=messages_body()).json()
    assert list(answer) == ["id", "type", "role", "content", "model", "stop_reason", "usage"]
    assert answer["id"].startswith("chatcmpl-")
    assert (answer["type"], answer["role"], answer["model"]) == ("message", "assistant", "test-model")
    assert [block["type"] for block in answer["content"]] == ["text"]
    assert answer["stop_reason"] == "max_tokens"
    assert answer["usage"]["output_tokens"] == 8
    # The system text and the user's message, through the chat template.
    tokens = client.post(
        "/v1/messages/count_tokens", json={"model": "test-model", "messages": messages_body()["messages"]}
    )
    assert answer["usage"]["input_tokens"] == tokens.json()["input_tokens"]
    again = client.post(MESSAGES_PATH, json=messages_body()).json()
    assert again["content"] == answer["content"]


def test_stop_sequences_are_reported(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(mode="echo"), timeout=10.0) as http:
        body = messages_body(
            max_tokens=50,
            stop_sequences=["STOP"],
            messages=[{"role": "user", "content": [{"type": "text", "text": "one two STOP three"}]}],
        )
        answer = http.post(MESSAGES_PATH, json=body).json()
        natural = http.post(MESSAGES_PATH, json=messages_body(max_tokens=50)).json()
    assert answer["content"] == [{"type": "text", "text": "one two "}]
    assert (answer["stop_reason"], answer["stop_sequence"]) == ("stop_sequence", "STOP")
    assert natural["stop_reason"] == "end_turn"
    assert "stop_sequence" not in natural


def test_stream_sends_vllms_named_events(client: httpx.Client) -> None:
    raw = client.post(MESSAGES_PATH, json=messages_body(stream=True, max_tokens=5)).text
    events = named_events(raw)
    names = [name for name, _ in events]
    assert names == ["message_start", "content_block_start"] + ["content_block_delta"] * 5 + [
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["stop_sequence"] is None
    assert start["usage"]["output_tokens"] == 0
    assert events[1][1] == {
        "type": "content_block_start",
        "content_block": {"type": "text", "text": ""},
        "index": 0,
    }
    assert all(
        data["delta"]["type"] == "text_delta" for name, data in events if name == "content_block_delta"
    )
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "max_tokens", "stop_sequence": None}
    assert delta["usage"] == {"input_tokens": start["usage"]["input_tokens"], "output_tokens": 5}
    whole = client.post(MESSAGES_PATH, json=messages_body(max_tokens=5)).json()
    streamed_text = "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
    assert streamed_text == whole["content"][0]["text"]


def test_system_and_tools_cost_prompt_tokens(client: httpx.Client) -> None:
    plain = {"model": "test-model", "messages": [{"role": "user", "content": "hi"}]}
    with_system = {**plain, "system": [{"type": "text", "text": "Be brief and polite."}]}
    with_tools = {**plain, "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}]}
    counts = [
        client.post("/v1/messages/count_tokens", json=body).json()
        for body in (plain, with_system, with_tools)
    ]
    assert counts[0] == {
        "input_tokens": counts[0]["input_tokens"],
        "context_management": {"original_input_tokens": counts[0]["input_tokens"]},
    }
    assert counts[1]["input_tokens"] > counts[0]["input_tokens"]
    assert counts[2]["input_tokens"] > counts[0]["input_tokens"]


def test_serving_errors_take_anthropics_shape(client: httpx.Client) -> None:
    unknown = client.post(MESSAGES_PATH, json=messages_body(model="nope"))
    too_long = client.post(MESSAGES_PATH, json=messages_body(max_tokens=10**6))
    count_unknown = client.post("/v1/messages/count_tokens", json={"model": "nope", "messages": []})
    assert unknown.status_code == count_unknown.status_code == 404
    assert unknown.json() == {
        "type": "error",
        "error": {
            "type": "NotFoundError",
            "message": "The model `nope` does not exist. Valid aliases: test-model.",
        },
    }
    assert too_long.status_code == 400
    assert too_long.json()["type"] == "error"
    assert too_long.json()["error"]["type"] == "BadRequestError"


@pytest.mark.parametrize(
    "body",
    [
        {"model": "test-model", "messages": []},
        messages_body(max_tokens=0),
        messages_body(model=""),
        messages_body(messages=[{"role": "tool", "content": "x"}]),
    ],
)
def test_schema_errors_keep_the_openai_shape(client: httpx.Client, body: dict[str, Any]) -> None:
    response = client.post(MESSAGES_PATH, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "Bad Request"


def test_messages_count_in_the_metrics(client: httpx.Client) -> None:
    answer = client.post(MESSAGES_PATH, json=messages_body(max_tokens=4)).json()
    metrics = client.get("/metrics").text
    assert metric_value(metrics, 'vllm:generation_tokens_total{engine="0",model_name="test-model"}') == 4
    assert (
        metric_value(metrics, 'vllm:prompt_tokens_total{engine="0",model_name="test-model"}')
        == answer["usage"]["input_tokens"]
    )


def test_messages_route_exists_only_with_a_generation_model(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(models=()), timeout=10.0) as http:
        for path in (MESSAGES_PATH, "/v1/messages/count_tokens"):
            response = http.post(path, json=messages_body())
            assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


def test_injected_failure_in_a_stream_is_an_error_event(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(error_rate=1.0), timeout=10.0) as http:
        whole = http.post(MESSAGES_PATH, json=messages_body())
        streamed = http.post(MESSAGES_PATH, json=messages_body(stream=True))
    assert whole.status_code == 500
    assert whole.json()["error"]["type"] == "InternalServerError"
    assert [name for name, _ in named_events(streamed.text)] == ["message_start", "error"]
