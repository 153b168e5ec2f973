"""``POST /v1/responses``: vLLM 0.32's Responses API, raw and through the official SDK."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import (
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)
from pydantic import BaseModel

from tests.simulator.conftest import StartSimulator
from tests.simulator.helpers import stats
from tests.waiting import wait_for

PATH = "/v1/responses"

RESPONSE_FIELDS = [
    "id",
    "created_at",
    "incomplete_details",
    "instructions",
    "metadata",
    "model",
    "object",
    "output",
    "parallel_tool_calls",
    "temperature",
    "tool_choice",
    "tools",
    "top_p",
    "background",
    "max_output_tokens",
    "max_tool_calls",
    "previous_response_id",
    "prompt",
    "reasoning",
    "service_tier",
    "status",
    "text",
    "top_logprobs",
    "truncation",
    "usage",
    "user",
    "presence_penalty",
    "frequency_penalty",
    "kv_transfer_params",
    "ec_transfer_params",
    "input_messages",
    "output_messages",
]
"""vLLM 0.32's ``ResponsesResponse`` fields in declaration order (``metrics`` is dropped while unset)."""

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather of a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
}

SDK_EVENT_TYPES: dict[str, type[BaseModel]] = {
    "response.output_item.added": ResponseOutputItemAddedEvent,
    "response.output_item.done": ResponseOutputItemDoneEvent,
    "response.content_part.added": ResponseContentPartAddedEvent,
    "response.content_part.done": ResponseContentPartDoneEvent,
    "response.output_text.delta": ResponseTextDeltaEvent,
    "response.output_text.done": ResponseTextDoneEvent,
    "response.function_call_arguments.delta": ResponseFunctionCallArgumentsDeltaEvent,
    "response.function_call_arguments.done": ResponseFunctionCallArgumentsDoneEvent,
}


def body(input_: Any = "Hello there, how are you?", **fields: Any) -> dict[str, Any]:
    """A Responses request for the default generation model."""
    request: dict[str, Any] = {"model": "test-model", "input": input_}
    request.update(fields)
    return request


def sse_blocks(raw: str) -> list[tuple[str, str]]:
    """``(event name, data)`` of each SSE block, asserting vLLM's ``event:`` + ``data:`` framing."""
    assert raw.endswith("\n\n")
    blocks = []
    for block in raw.split("\n\n")[:-1]:
        event_line, data_line = block.split("\n")
        assert event_line.startswith("event: ")
        assert data_line.startswith("data: ")
        blocks.append((event_line.removeprefix("event: "), data_line.removeprefix("data: ")))
    return blocks


def stream_events(client: httpx.Client, request: dict[str, Any]) -> list[dict[str, Any]]:
    """The decoded events of a streamed request, checking each names its own type."""
    response = client.post(PATH, json={**request, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert "[DONE]" not in response.text
    events = []
    for name, data in sse_blocks(response.text):
        event = json.loads(data)
        assert event["type"] == name
        events.append(event)
    return events


def test_non_streamed_text_answer(client: httpx.Client) -> None:
    response = client.post(PATH, json=body())

    assert response.status_code == 200
    result = response.json()
    assert list(result) == RESPONSE_FIELDS
    assert result["id"].startswith("resp_") and len(result["id"]) == len("resp_") + 16
    assert result["object"] == "response"
    assert result["model"] == "test-model"
    assert result["status"] == "completed"
    assert result["incomplete_details"] is None
    # Without tools vLLM turns the default "auto" into "none"; sampling defaults are echoed.
    assert result["tool_choice"] == "none"
    assert (result["temperature"], result["top_p"], result["top_logprobs"]) == (1.0, 1.0, None)
    (item,) = result["output"]
    assert list(item) == ["id", "content", "role", "status", "type", "phase"]
    assert item["id"].startswith("msg_")
    assert (item["type"], item["role"], item["status"]) == ("message", "assistant", "completed")
    (part,) = item["content"]
    assert part == {"annotations": [], "text": part["text"], "type": "output_text", "logprobs": None}
    usage = result["usage"]
    assert 16 <= usage["output_tokens"] <= 64
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert list(usage["input_tokens_details"]) == [
        "cached_tokens",
        "cache_write_tokens",
        "input_tokens_per_turn",
        "cached_tokens_per_turn",
    ]
    assert usage["output_tokens_details"] == {
        "reasoning_tokens": 0,
        "tool_output_tokens": 0,
        "output_tokens_per_turn": [],
        "tool_output_tokens_per_turn": [],
    }
    # The sampling max_tokens: whatever the context leaves.
    assert result["max_output_tokens"] == 8192 - usage["input_tokens"]


def test_max_output_tokens_cuts_the_answer_and_marks_it_incomplete(client: httpx.Client) -> None:
    result = client.post(PATH, json=body(max_output_tokens=3, instructions="Be brief.")).json()

    assert result["status"] == "incomplete"
    assert result["incomplete_details"] == {"reason": "max_output_tokens"}
    assert result["max_output_tokens"] == 3
    assert result["instructions"] == "Be brief."
    assert result["usage"]["output_tokens"] == 3
    assert result["output"][0]["status"] == "completed"  # the message item: as vLLM 0.32 marks it


def test_request_settings_are_echoed_as_vllm_dumps_them(client: httpx.Client) -> None:
    greedy = client.post(PATH, json=body(temperature=0, top_p=0.5, max_output_tokens=1)).json()
    tiny = client.post(PATH, json=body(temperature=0.001, max_output_tokens=1)).json()
    echoed = client.post(
        PATH,
        json=body(
            max_output_tokens=1,
            metadata={"team": "blue"},
            user="u1",
            prompt_cache_key="k",
            reasoning={"effort": "low"},
            text={"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}}},
        ),
    ).json()

    # vLLM echoes its SamplingParams: greedy sampling resets top_p, tiny temperatures are raised.
    assert (greedy["temperature"], greedy["top_p"]) == (0.0, 1.0)
    assert tiny["temperature"] == 0.01
    assert (echoed["metadata"], echoed["user"]) == ({"team": "blue"}, "u1")
    assert "prompt_cache_key" not in echoed  # accepted, not echoed by vLLM 0.32
    assert echoed["reasoning"] == {
        "context": None,
        "effort": "low",
        "generate_summary": None,
        "mode": None,
        "summary": None,
    }
    assert echoed["text"] == {
        "format": {
            "name": "answer",
            "schema": {"type": "object"},
            "type": "json_schema",
            "description": None,
            "strict": None,
        },
        "verbosity": None,
    }


def test_instructions_and_history_count_as_prompt(client: httpx.Client) -> None:
    plain = client.post(PATH, json=body("one two three", max_output_tokens=1)).json()
    history = [
        {"role": "user", "content": [{"type": "input_text", "text": "one two three"}]},
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"q": "x"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "forty two"},
    ]
    longer = client.post(PATH, json=body(history, instructions="Answer briefly.", max_output_tokens=1)).json()

    assert plain["usage"]["input_tokens"] > 0
    assert longer["usage"]["input_tokens"] > plain["usage"]["input_tokens"]


def test_stream_events_order_numbers_and_text(client: httpx.Client) -> None:
    events = stream_events(client, body(max_output_tokens=8))
    types = [event["type"] for event in events]

    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 8,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",  # vLLM 0.32 completes an incomplete response too
    ]
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    created, in_progress = events[0]["response"], events[1]["response"]
    assert created == in_progress
    assert list(created) == RESPONSE_FIELDS
    assert (created["status"], created["output"], created["usage"]) == ("in_progress", [], None)
    item_id = events[2]["item"]["id"]
    assert item_id.startswith("msg_")
    deltas = [event for event in events if event["type"] == "response.output_text.delta"]
    assert {event["item_id"] for event in deltas} == {item_id}
    text = "".join(event["delta"] for event in deltas)
    assert events[-4]["text"] == text
    assert events[-3]["part"]["text"] == text
    final = events[-1]["response"]
    assert final["id"] == created["id"]
    assert final["status"] == "incomplete"
    assert final["output"] == [events[-2]["item"]]
    assert final["output"][0]["content"][0]["text"] == text
    assert final["usage"]["output_tokens"] == len(deltas)


def test_a_natural_stream_ends_with_completed(client: httpx.Client) -> None:
    events = stream_events(client, body())

    final = events[-1]
    assert final["type"] == "response.completed"
    assert final["response"]["status"] == "completed"
    assert final["response"]["incomplete_details"] is None
    usage = final["response"]["usage"]
    assert usage["output_tokens"] == sum(event["type"] == "response.output_text.delta" for event in events)
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_stream_events_serialize_exactly_like_the_sdk_types(client: httpx.Client) -> None:
    """Each item event is what pydantic dumps for the SDK type vLLM builds: same fields, same order."""
    raw_text = client.post(PATH, json=body(max_output_tokens=4, stream=True)).text
    raw_call = client.post(
        PATH, json=body(tools=[WEATHER_TOOL], tool_choice="required", max_output_tokens=50, stream=True)
    ).text

    checked = set()
    for name, data in sse_blocks(raw_text) + sse_blocks(raw_call):
        event_type = SDK_EVENT_TYPES.get(name)
        if event_type is None:
            continue
        assert event_type.model_validate_json(data).model_dump_json(by_alias=True) == data
        checked.add(name)
    assert checked == set(SDK_EVENT_TYPES)


def test_echo_mode_answers_with_the_last_user_input(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(mode="echo"), timeout=10.0) as http:
        plain = http.post(PATH, json=body("Repeat after me, please.")).json()
        items = [
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": [{"type": "input_text", "text": "the second one"}]},
        ]
        listed = http.post(PATH, json=body(items)).json()
        streamed = stream_events(http, body("Echo this back"))

    assert plain["output"][0]["content"][0]["text"] == "Repeat after me, please."
    assert listed["output"][0]["content"][0]["text"] == "the second one"
    assert streamed[-1]["response"]["output"][0]["content"][0]["text"] == "Echo this back"


def test_empty_answer_has_no_output_item(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(mode="echo"), timeout=10.0) as http:
        result = http.post(PATH, json=body("")).json()
        events = stream_events(http, body(""))

    assert result["output"] == []
    assert result["status"] == "completed"
    assert [event["type"] for event in events] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]


def test_named_tool_choice_returns_a_function_call(client: httpx.Client) -> None:
    choice = {"type": "function", "name": "get_weather"}
    result = client.post(PATH, json=body(tools=[WEATHER_TOOL], tool_choice=choice)).json()

    (call,) = result["output"]
    assert list(call) == [
        "arguments",
        "call_id",
        "name",
        "type",
        "id",
        "async",
        "caller",
        "namespace",
        "status",
    ]
    assert call["type"] == "function_call"
    assert call["id"].startswith("fc_")
    assert call["call_id"].startswith("chatcmpl-tool-")
    assert (call["name"], call["status"]) == ("get_weather", "completed")
    assert isinstance(json.loads(call["arguments"])["city"], str)
    assert result["tool_choice"] == {"name": "get_weather", "type": "function"}
    (tool,) = result["tools"]
    assert list(tool) == [
        "name",
        "parameters",
        "strict",
        "type",
        "allowed_callers",
        "async",
        "defer_loading",
        "description",
        "output_schema",
    ]
    assert tool["parameters"] == WEATHER_TOOL["parameters"]


def test_auto_tool_choice_calls_only_a_mentioned_tool(client: httpx.Client) -> None:
    unrelated = client.post(PATH, json=body("Tell me a story", tools=[WEATHER_TOOL])).json()
    mentioned = client.post(PATH, json=body("Use get_weather for Paris", tools=[WEATHER_TOOL])).json()

    assert unrelated["tool_choice"] == "auto"
    assert unrelated["output"][0]["type"] == "message"
    assert mentioned["output"][0]["type"] == "function_call"


def test_streamed_function_call(client: httpx.Client) -> None:
    events = stream_events(client, body(tools=[WEATHER_TOOL], tool_choice="required"))
    types = [event["type"] for event in events]

    deltas = [event for event in events if event["type"] == "response.function_call_arguments.delta"]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        *["response.function_call_arguments.delta"] * len(deltas),
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added = events[2]["item"]
    assert (added["arguments"], added["status"]) == ("", "in_progress")
    arguments = "".join(event["delta"] for event in deltas)
    done = events[-3]
    assert (done["arguments"], done["name"]) == (arguments, "get_weather")
    assert list(done)[-1] == "name"
    final_item = events[-1]["response"]["output"][0]
    assert final_item == {**added, "arguments": arguments, "status": "completed"}
    assert events[-1]["response"]["usage"]["output_tokens"] == len(deltas)
    json.loads(arguments)


def test_logprobs_when_included(client: httpx.Client) -> None:
    request = body(include=["message.output_text.logprobs"], top_logprobs=2, max_output_tokens=3)
    result = client.post(PATH, json=request).json()
    events = stream_events(client, request)

    assert result["top_logprobs"] == 2
    logprobs = result["output"][0]["content"][0]["logprobs"]
    assert len(logprobs) == 3
    assert list(logprobs[0]) == ["token", "bytes", "logprob", "top_logprobs"]
    assert len(logprobs[0]["top_logprobs"]) == 2
    assert list(logprobs[0]["top_logprobs"][0]) == ["token", "bytes", "logprob"]
    delta = next(event for event in events if event["type"] == "response.output_text.delta")
    assert list(delta["logprobs"][0]) == ["token", "logprob", "top_logprobs"]
    assert list(delta["logprobs"][0]["top_logprobs"][0]) == ["token", "logprob"]
    done_part = events[-3]["part"]
    assert len(done_part["logprobs"]) == 3


def test_unknown_model_is_404(client: httpx.Client) -> None:
    response = client.post(PATH, json=body(model="nope"))

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "The model `nope` does not exist. Valid aliases: test-model.",
            "type": "NotFoundError",
            "param": "model",
            "code": 404,
        }
    }


@pytest.mark.parametrize(
    ("request_body", "fragment"),
    [
        ({"model": "test-model"}, "'loc': 'body.input'"),
        (body([{"role": "user", "content": 3}]), "'loc': 'body.input.0.content'"),
        (body([{"type": "function_call", "name": "f"}]), "'loc': 'body.input.0.call_id'"),
        (body(tool_choice="sometimes", tools=[WEATHER_TOOL]), "Input should be 'none', 'auto' or 'required'"),
        (body(include=["everything"]), "'loc': 'body.include.0'"),
    ],
)
def test_schema_errors_are_400(client: httpx.Client, request_body: dict[str, Any], fragment: str) -> None:
    response = client.post(PATH, json=request_body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "Bad Request"
    assert error["message"].startswith("1 validation error:\n")
    assert fragment in error["message"]


def test_vllm_checks_are_400_with_their_parameter(client: httpx.Client) -> None:
    required_without_tools = client.post(PATH, json=body(tool_choice="required")).json()["error"]
    unknown_tool = client.post(
        PATH, json=body(tools=[WEATHER_TOOL], tool_choice={"type": "function", "name": "nope"})
    ).json()["error"]
    no_tokens = client.post(PATH, json=body(max_output_tokens=0)).json()["error"]
    unsupported = client.post(PATH, json=body([{"type": "item_reference", "id": "x"}])).json()["error"]

    assert required_without_tools["param"] == "tool_choice"
    assert (
        "Tool choice 'required' must be specified with 'tools' parameter."
        in required_without_tools["message"]
    )
    assert "Tool choice 'function' not found in 'tools' parameter." in unknown_tool["message"]
    assert no_tokens == {
        "message": "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)",
        "type": "BadRequestError",
        "param": "max_tokens",
        "code": 400,
    }
    assert unsupported["message"] == "Unsupported input item type: item_reference (parameter=input)"
    assert unsupported["type"] == "BadRequestError"


def test_stored_responses_are_not_available(client: httpx.Client) -> None:
    background = client.post(PATH, json=body(background=True))
    previous = client.post(PATH, json=body(previous_response_id="resp_123"))

    assert background.status_code == 400
    assert background.json()["error"]["type"] == "invalid_request_error"
    assert background.json()["error"]["param"] == "background"
    assert previous.status_code == 404
    assert previous.json()["error"] == {
        "message": "Response with id 'resp_123' not found.",
        "type": "invalid_request_error",
        "param": "response_id",
        "code": 404,
    }


def test_prompt_over_the_context_is_400(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(max_model_len=32), timeout=10.0) as http:
        response = http.post(PATH, json=body("word " * 40))
        # /tokenize renders a string input the way this route does: one user message.
        messages = [{"role": "user", "content": "word " * 20}]
        filling = http.post("/tokenize", json={"messages": messages}).json()["count"]
    with httpx.Client(base_url=start_simulator(max_model_len=filling), timeout=10.0) as http:
        full = http.post(PATH, json=body("word " * 20))

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("BadRequestError", "input_tokens")
    assert error["message"].startswith("This model's maximum context length is 32 tokens.")
    # A prompt that fills the context exactly passes the renderer but not the Responses route.
    assert full.status_code == 400
    assert full.json()["error"] == {
        "message": f"The engine prompt length {filling} exceeds the max_model_len {filling}. Please reduce prompt.",
        "type": "invalid_request_error",
        "param": "input",
        "code": 400,
    }


def test_closing_a_stream_aborts_the_request(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(itl_ms=20.0), timeout=10.0) as http:
        with http.stream("POST", PATH, json=body(max_output_tokens=500, stream=True)) as response:
            lines = response.iter_lines()  # keep the iterator: dropping it would close the connection
            assert next(lines) == "event: response.created"
            assert stats(http)["running"] == 1
        # Leaving the block closed the connection long before 500 tokens at 20 ms each.

        assert wait_for(lambda: stats(http)["aborted"] == 1, 5.0)
        assert stats(http)["running"] == 0
        assert stats(http)["completed"] == 0


def test_disconnect_during_a_non_streamed_wait_aborts(client: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        client.post(PATH, json=body(), headers={"x-sim-delay-ms": "5000"}, timeout=0.3)

    assert wait_for(lambda: stats(client)["aborted"] == 1, 5.0)
    assert stats(client)["running"] == 0


def _collect_event_names(client: httpx.Client, request: dict[str, Any], names: list[str]) -> None:
    """Append the ``event:`` lines of a stream to ``names`` as they arrive (kept if the stream breaks)."""
    with client.stream("POST", PATH, json=request) as response:
        names.extend(line for line in response.iter_lines() if line.startswith("event: "))


def test_failure_injection_headers_and_xargs(client: httpx.Client) -> None:
    forced = client.post(PATH, json=body(), headers={"x-sim-force-status": "503"})
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        _collect_event_names(
            client, body(stream=True, max_output_tokens=20, vllm_xargs={"sim_break_after": 4}), received
        )

    assert forced.status_code == 503
    assert received == [
        "event: response.created",
        "event: response.in_progress",
        "event: response.output_item.added",
        "event: response.content_part.added",
    ]
    assert wait_for(lambda: stats(client)["running"] == 0, 5.0)


def test_engine_errors(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(error_rate=1.0), timeout=10.0) as http:
        plain = http.post(PATH, json=body())
        received: list[str] = []
        # vLLM cannot express a generation error as a Responses event: the stream just stops.
        with pytest.raises(httpx.RemoteProtocolError):
            _collect_event_names(http, body(stream=True), received)

        assert plain.status_code == 500
        assert plain.json()["error"]["type"] == "InternalServerError"
        assert received == ["event: response.created", "event: response.in_progress"]
        assert wait_for(lambda: stats(http)["running"] == 0, 5.0)


def _die_at_the_first_delta(http: httpx.Client, lines: list[str]) -> None:
    """Stream a long answer and play dead once the first token arrives; ``lines`` keeps what came."""
    with http.stream("POST", PATH, json=body(stream=True, max_output_tokens=200)) as response:
        for line in response.iter_lines():
            lines.append(line)
            if line == "event: response.output_text.delta" and lines.count(line) == 1:
                http.post("/sim/dead", json={"dead": True})


def test_a_dead_engine_is_500_before_the_stream_and_a_dropped_stream_after(
    start_simulator: StartSimulator,
) -> None:
    with httpx.Client(base_url=start_simulator(itl_ms=20.0), timeout=10.0) as http:
        http.post("/sim/dead", json={"dead": True})
        dead = http.post(PATH, json=body(stream=True))
        http.post("/sim/dead", json={"dead": False})
        received: list[str] = []
        with pytest.raises(httpx.RemoteProtocolError):
            _die_at_the_first_delta(http, received)

        assert dead.status_code == 500
        assert dead.json()["error"]["message"].startswith("EngineCore encountered an issue.")
        names = [line for line in received if line.startswith("event: ")]
        assert "event: response.completed" not in names
        assert len(names) < 200
        assert wait_for(lambda: stats(http)["running"] == 0, 5.0)


def test_last_request_records_responses_calls(client: httpx.Client) -> None:
    raw = b'{"model": "test-model", "input": "hi", "max_output_tokens": 1}'
    client.post(PATH, content=raw, headers={"content-type": "application/json", "x-trace": "t1"})
    last = client.get("/sim/last-request").json()

    assert last["path"] == PATH
    assert last["body"] == raw.decode()
    assert last["headers"]["x-trace"] == "t1"


def test_the_sdk_reads_responses(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(model="test-model", input="Say something", max_output_tokens=6)

    assert response.id.startswith("resp_")
    assert response.status == "incomplete"
    assert response.output_text
    assert response.usage is not None
    assert response.usage.output_tokens == 6
    assert response.usage.input_tokens_details.cached_tokens == 0


def test_the_sdk_reads_streams_and_tool_calls(sdk: openai.OpenAI) -> None:
    deltas: list[str] = []
    final = None
    with sdk.responses.create(model="test-model", input="Say something", stream=True) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            elif event.type == "response.completed":
                final = event.response
    tool_response = sdk.responses.create(
        model="test-model",
        input="What is the weather in Paris?",
        tools=[
            {
                "type": "function",
                "name": "get_weather",
                "parameters": WEATHER_TOOL["parameters"],
                "strict": None,
            }
        ],
        tool_choice="required",
    )

    assert final is not None
    assert final.output_text == "".join(deltas)
    (call,) = tool_response.output
    assert call.type == "function_call"
    assert call.name == "get_weather"
    assert "city" in json.loads(call.arguments)
