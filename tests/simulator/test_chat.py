"""Chat completions through the official SDK and as raw SSE."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionFunctionToolParam

from tests.simulator.conftest import StartSimulator
from tests.simulator.helpers import CHAT_PATH, chat_body, json_events, sse_events

WEATHER_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
            },
            "required": ["city"],
        },
    },
}


def test_plain_chat_with_the_sdk(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="test-model", messages=[{"role": "user", "content": "Say something"}]
    )

    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "test-model"
    assert completion.system_fingerprint is not None
    assert completion.system_fingerprint.startswith("vllm-0.32.0-")
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert 16 <= completion.usage.completion_tokens <= 64
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_content_parts_and_tool_messages_count_as_prompt(client: httpx.Client) -> None:
    plain = client.post(CHAT_PATH, json=chat_body("one two three", max_tokens=1)).json()
    parts = client.post(
        CHAT_PATH,
        json={
            "model": "test-model",
            "max_tokens": 1,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "one two three"}]},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "forty two"},
            ],
        },
    ).json()

    assert plain["usage"]["prompt_tokens"] > 0
    assert parts["usage"]["prompt_tokens"] > plain["usage"]["prompt_tokens"]


def test_streamed_text_equals_the_non_streamed_text(sdk: openai.OpenAI) -> None:
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": "Tell me more"}
    ]
    whole = sdk.chat.completions.create(model="test-model", messages=messages, seed=7)
    stream = sdk.chat.completions.create(model="test-model", messages=messages, seed=7, stream=True)

    chunks = list(stream)

    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    assert chunks[-1].choices[0].finish_reason == "stop"
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert streamed == whole.choices[0].message.content


def test_raw_stream_framing_without_usage(client: httpx.Client) -> None:
    with client.stream("POST", CHAT_PATH, json=chat_body(stream=True, max_tokens=4)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        raw = response.read().decode()

    events = sse_events(raw)
    assert events[0].startswith('{"id":"chatcmpl-')
    assert (
        '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]'
        in (events[0])
    )
    chunks = json_events(raw)
    assert len(chunks) == 1 + 4  # the role chunk, then one chunk per token
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks] == [None, None, None, None, "length"]
    assert chunks[-1]["choices"][0]["stop_reason"] is None
    assert all("usage" not in chunk for chunk in chunks)
    assert '"choices":[]' not in raw
    # vLLM 0.32: the role chunk names the (unrequested) prompt, the finish chunk the engine.
    assert (chunks[0]["prompt_token_ids"], chunks[0]["prompt_text"]) == (None, None)
    assert chunks[-1]["system_fingerprint"].startswith("vllm-0.32.0-")
    assert all("system_fingerprint" not in chunk for chunk in chunks[:-1])


def test_raw_stream_with_include_usage(client: httpx.Client) -> None:
    body = chat_body(stream=True, max_tokens=5, stream_options={"include_usage": True})
    with client.stream("POST", CHAT_PATH, json=body) as response:
        raw = response.read().decode()

    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    assert '"choices":[]' in events[-2]
    chunks = json_events(raw)
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 5
    assert usage_chunk["usage"]["total_tokens"] == usage_chunk["usage"]["prompt_tokens"] + 5
    assert "prompt_tokens_details" not in usage_chunk["usage"]
    assert all("usage" not in chunk for chunk in chunks[:-1])
    # The fingerprint moves to the usage chunk, the last one before [DONE].
    assert usage_chunk["system_fingerprint"].startswith("vllm-0.32.0-")
    assert all("system_fingerprint" not in chunk for chunk in chunks[:-1])


def test_continuous_usage_stats_on_every_chunk(client: httpx.Client) -> None:
    body = chat_body(
        stream=True, max_tokens=3, stream_options={"include_usage": True, "continuous_usage_stats": True}
    )
    with client.stream("POST", CHAT_PATH, json=body) as response:
        chunks = json_events(response.read().decode())

    assert [chunk["usage"]["completion_tokens"] for chunk in chunks] == [0, 1, 2, 3, 3]
    # Per-chunk usage carries completion_tokens_details, the final usage chunk does not.
    assert all(chunk["usage"]["completion_tokens_details"] is None for chunk in chunks[:-1])
    assert "completion_tokens_details" not in chunks[-1]["usage"]


def test_n_choices(client: httpx.Client) -> None:
    response = client.post(CHAT_PATH, json=chat_body(n=2, max_tokens=6)).json()

    choices = response["choices"]
    assert [choice["index"] for choice in choices] == [0, 1]
    assert choices[0]["message"]["content"] != choices[1]["message"]["content"]
    assert response["usage"]["completion_tokens"] == 12


def test_n_choices_stream_each_get_a_role_chunk(client: httpx.Client) -> None:
    with client.stream("POST", CHAT_PATH, json=chat_body(n=2, max_tokens=2, stream=True)) as response:
        chunks = json_events(response.read().decode())

    roles = [chunk["choices"][0]["index"] for chunk in chunks if "role" in chunk["choices"][0]["delta"]]
    assert roles == [0, 1]
    finished = [chunk["choices"][0]["index"] for chunk in chunks if chunk["choices"][0]["finish_reason"]]
    assert sorted(finished) == [0, 1]


def test_logprobs(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="test-model",
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=5,
        logprobs=True,
        top_logprobs=3,
    )

    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert len(logprobs.content) == 5
    assert "".join(entry.token for entry in logprobs.content) == completion.choices[0].message.content
    for entry in logprobs.content:
        assert entry.logprob <= 0
        assert entry.bytes == list(entry.token.encode())
        assert len(entry.top_logprobs) == 3
        values = [top.logprob for top in entry.top_logprobs]
        assert values == sorted(values, reverse=True)


def test_logprobs_stream_per_chunk(client: httpx.Client) -> None:
    body = chat_body(stream=True, max_tokens=2, logprobs=True, top_logprobs=1)
    with client.stream("POST", CHAT_PATH, json=body) as response:
        chunks = json_events(response.read().decode())

    assert chunks[0]["choices"][0]["logprobs"] is None
    for chunk in chunks[1:]:
        content = chunk["choices"][0]["logprobs"]["content"]
        assert len(content) == 1
        assert content[0]["token"] == chunk["choices"][0]["delta"]["content"]


def test_required_tool_choice(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="test-model",
        messages=[{"role": "user", "content": "What should I wear?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
    )

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.id.startswith("chatcmpl-tool-")
    assert call.type == "function"
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    assert set(arguments) == {"city", "unit", "days"}
    assert arguments["unit"] in ("celsius", "fahrenheit")
    assert isinstance(arguments["days"], int)


def test_auto_tool_choice_calls_a_mentioned_tool_only(client: httpx.Client) -> None:
    mentioned = client.post(
        CHAT_PATH,
        json=chat_body("Please call get_weather for Paris", tools=[WEATHER_TOOL], tool_choice="auto"),
    ).json()
    not_mentioned = client.post(CHAT_PATH, json=chat_body("Tell me a story", tools=[WEATHER_TOOL])).json()

    assert mentioned["choices"][0]["finish_reason"] == "tool_calls"
    assert mentioned["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert "tool_calls" not in not_mentioned["choices"][0]["message"]  # vLLM leaves it out then
    assert not_mentioned["choices"][0]["message"]["content"]


def test_named_tool_choice_ends_with_stop_like_openai(client: httpx.Client) -> None:
    named = {"type": "function", "function": {"name": "get_weather"}}
    response = client.post(CHAT_PATH, json=chat_body("Hi", tools=[WEATHER_TOOL], tool_choice=named)).json()

    choice = response["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == ""
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_tool_call_stream_with_the_sdk(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="test-model",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        stream=True,
    )

    calls = [call for chunk in stream if chunk.choices for call in chunk.choices[0].delta.tool_calls or []]
    assert calls[0].id is not None and calls[0].id.startswith("chatcmpl-tool-")
    assert calls[0].function is not None and calls[0].function.name == "get_weather"
    assert all(call.id is None for call in calls[1:])
    arguments = "".join(call.function.arguments or "" for call in calls if call.function is not None)
    assert "city" in json.loads(arguments)


def test_same_seed_same_text_other_seed_other_text(client: httpx.Client) -> None:
    first = client.post(CHAT_PATH, json=chat_body(seed=42)).json()["choices"][0]["message"]["content"]
    again = client.post(CHAT_PATH, json=chat_body(seed=42)).json()["choices"][0]["message"]["content"]
    other = client.post(CHAT_PATH, json=chat_body(seed=43)).json()["choices"][0]["message"]["content"]

    assert first == again
    assert first != other


def test_server_seed_changes_the_text(start_simulator: StartSimulator) -> None:
    texts = []
    for seed in (1, 2):
        with httpx.Client(base_url=start_simulator(seed=seed), timeout=10.0) as http:
            texts.append(http.post(CHAT_PATH, json=chat_body()).json()["choices"][0]["message"]["content"])

    assert texts[0] != texts[1]


def test_max_tokens_past_the_prompts_room_is_clamped_to_the_context(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(max_model_len=64), timeout=10.0) as http:
        response = http.post(CHAT_PATH, json=chat_body(max_tokens=60))

    assert response.status_code == 200
    usage = response.json()["usage"]
    assert usage["prompt_tokens"] > 4
    assert usage["total_tokens"] == 64
    assert response.json()["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_above_the_whole_context_is_400(start_simulator: StartSimulator, field: str) -> None:
    with httpx.Client(base_url=start_simulator(max_model_len=64), timeout=10.0) as http:
        response = http.post(CHAT_PATH, json=chat_body("Hello there, how are you?", **{field: 65}))

    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": f"{field}=65 cannot be greater than max_model_len=64. Please request fewer output tokens. "
        f"(parameter={field}, value=65)",
        "type": "BadRequestError",
        "param": field,
        "code": 400,
    }


def test_echo_mode_answers_with_the_last_user_message(start_simulator: StartSimulator) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "Second question, with punctuation!"},
    ]
    with httpx.Client(base_url=start_simulator(mode="echo"), timeout=10.0) as http:
        whole = http.post(CHAT_PATH, json={"model": "test-model", "messages": messages}).json()
        cut = http.post(CHAT_PATH, json={"model": "test-model", "messages": messages, "max_tokens": 2}).json()

    assert whole["choices"][0]["message"]["content"] == "Second question, with punctuation!"
    assert whole["choices"][0]["finish_reason"] == "stop"
    assert cut["choices"][0]["message"]["content"] == "Second question"
    assert cut["choices"][0]["finish_reason"] == "length"


def test_stop_string_cuts_the_answer(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(mode="echo"), timeout=10.0) as http:
        response = http.post(CHAT_PATH, json=chat_body("alpha beta STOP gamma", stop=["STOP", "zzz"])).json()

    choice = response["choices"][0]
    assert choice["message"]["content"] == "alpha beta "
    assert choice["finish_reason"] == "stop"
    assert choice["stop_reason"] == "STOP"


def test_unknown_fields_are_accepted(client: httpx.Client) -> None:
    response = client.post(
        CHAT_PATH, json=chat_body(top_k=5, repetition_penalty=1.1, some_future_field={"a": 1})
    )

    assert response.status_code == 200


def test_streamed_echo_of_awkward_text_is_valid_json(start_simulator: StartSimulator) -> None:
    awkward = 'Quotes " and \\ backslashes,\nnew lines\tand tabs, é, 東京, emoji 🎉 and </script>'
    with (
        httpx.Client(base_url=start_simulator(mode="echo"), timeout=10.0) as http,
        http.stream("POST", CHAT_PATH, json=chat_body(awkward, stream=True)) as response,
    ):
        chunks = json_events(response.read().decode())

    assert "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks) == awkward
