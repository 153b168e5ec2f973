"""Legacy completions: prompts as text or token ids, echo, logprobs, streaming."""

from __future__ import annotations

import httpx
import openai

from tests.simulator.conftest import StartSimulator
from tests.simulator.helpers import json_events, sse_events

COMPLETIONS_PATH = "/v1/completions"


def test_plain_completion_with_the_sdk(sdk: openai.OpenAI) -> None:
    completion = sdk.completions.create(model="test-model", prompt="Once upon a time")

    assert completion.id.startswith("cmpl-")
    assert completion.object == "text_completion"
    assert completion.choices[0].text
    # vLLM's completion default is max_tokens=16; random mode writes exactly that many tokens.
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 16


def test_several_prompts_times_n(client: httpx.Client) -> None:
    response = client.post(
        COMPLETIONS_PATH,
        json={"model": "test-model", "prompt": ["first prompt", "second one"], "n": 2, "max_tokens": 3},
    ).json()

    assert [choice["index"] for choice in response["choices"]] == [0, 1, 2, 3]
    assert response["usage"]["completion_tokens"] == 12
    # Each prompt is counted once with its beginning-of-sequence token, whatever n is.
    assert response["usage"]["prompt_tokens"] == (2 + 1) + (2 + 1)


def test_token_id_prompts(client: httpx.Client) -> None:
    single = client.post(COMPLETIONS_PATH, json={"prompt": [1, 1001, 1003], "max_tokens": 1}).json()
    batch = client.post(COMPLETIONS_PATH, json={"prompt": [[1, 1001], [1003]], "max_tokens": 1}).json()
    outside = client.post(COMPLETIONS_PATH, json={"prompt": [10**9], "max_tokens": 1})

    assert single["usage"]["prompt_tokens"] == 3
    assert len(batch["choices"]) == 2
    assert batch["usage"]["prompt_tokens"] == 3
    assert outside.status_code == 400


def test_echo_prepends_the_prompt(client: httpx.Client) -> None:
    response = client.post(COMPLETIONS_PATH, json={"prompt": "Start:", "echo": True, "max_tokens": 2}).json()

    assert response["choices"][0]["text"].startswith("Start:")
    assert len(response["choices"][0]["text"]) > len("Start:")


def test_logprobs_as_an_integer(client: httpx.Client) -> None:
    response = client.post(COMPLETIONS_PATH, json={"prompt": "Hi", "max_tokens": 4, "logprobs": 2}).json()

    logprobs = response["choices"][0]["logprobs"]
    assert len(logprobs["tokens"]) == 4
    assert "".join(logprobs["tokens"]) == response["choices"][0]["text"]
    assert logprobs["text_offset"][0] == 0
    assert all(len(top) <= 2 for top in logprobs["top_logprobs"])


def test_echo_with_logprobs_covers_the_prompt(client: httpx.Client) -> None:
    response = client.post(
        COMPLETIONS_PATH, json={"prompt": "Three word prompt", "echo": True, "max_tokens": 2, "logprobs": 1}
    ).json()

    choice = response["choices"][0]
    logprobs = choice["logprobs"]
    # The prompt's three tokens come first; nothing precedes the first, so it has no logprob.
    assert logprobs["tokens"][:3] == ["Three", " word", " prompt"]
    assert len(logprobs["tokens"]) == 5
    assert (logprobs["token_logprobs"][0], logprobs["top_logprobs"][0]) == (None, None)
    assert all(value is not None for value in logprobs["token_logprobs"][1:])
    assert logprobs["text_offset"] == [0, 5, 10, 17, 17 + len(logprobs["tokens"][3])]
    assert "".join(logprobs["tokens"]) == choice["text"]
    # vLLM also reports them as prompt_logprobs: keyed by token id, with rank and text.
    prompt_logprobs = choice["prompt_logprobs"]
    assert len(prompt_logprobs) == 3 and prompt_logprobs[0] is None
    first = next(iter(prompt_logprobs[1].values()))
    assert set(first) == {"logprob", "rank", "decoded_token"}
    assert first["decoded_token"] == " word"


def test_prompt_logprobs_without_echo(client: httpx.Client) -> None:
    response = client.post(
        COMPLETIONS_PATH, json={"prompt": "Three word prompt", "max_tokens": 2, "prompt_logprobs": 2}
    ).json()

    choice = response["choices"][0]
    assert choice["logprobs"] is None
    assert [entry is None for entry in choice["prompt_logprobs"]] == [True, False, False]
    assert all(1 <= len(entry) <= 2 for entry in choice["prompt_logprobs"][1:])


def test_streamed_echo_names_the_prompt_token_ids(client: httpx.Client) -> None:
    body = {"prompt": "Three word prompt", "echo": True, "max_tokens": 3, "stream": True}
    tokenized = client.post("/tokenize", json={"prompt": "Three word prompt"}).json()["tokens"]
    chunks = json_events(client.post(COMPLETIONS_PATH, json=body).text)

    assert chunks[0]["choices"][0]["text"].startswith("Three word prompt")
    assert chunks[0]["choices"][0]["prompt_token_ids"] == tokenized
    assert all(chunk["choices"][0]["prompt_token_ids"] is None for chunk in chunks[1:])
    assert chunks[-1]["system_fingerprint"].startswith("vllm-0.32.0-")


def test_echo_mode_returns_the_prompt(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(mode="echo"), timeout=10.0) as http:
        response = http.post(COMPLETIONS_PATH, json={"prompt": "repeat after me", "max_tokens": 100}).json()

    assert response["choices"][0]["text"] == "repeat after me"
    assert response["choices"][0]["finish_reason"] == "stop"


def test_stream_format(client: httpx.Client) -> None:
    body = {"prompt": "Hi", "max_tokens": 3, "stream": True, "stream_options": {"include_usage": True}}
    with client.stream("POST", COMPLETIONS_PATH, json=body) as response:
        raw = response.read().decode()

    events = sse_events(raw)
    assert events[0].startswith('{"id":"cmpl-')
    chunks = json_events(raw)
    text_chunks, usage_chunk = chunks[:-1], chunks[-1]
    assert len(text_chunks) == 3
    # Completion chunks write every choice field, unset ones as null, but no usage unless continuous.
    assert set(text_chunks[0]["choices"][0]) == {
        "index",
        "text",
        "logprobs",
        "finish_reason",
        "stop_reason",
        "prompt_token_ids",
        "token_ids",
    }
    assert "usage" not in text_chunks[0]
    assert [chunk["choices"][0]["finish_reason"] for chunk in text_chunks] == [None, None, "length"]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 3
    # The last chunk before [DONE] names the engine, as vLLM 0.32's do.
    assert usage_chunk["system_fingerprint"].startswith("vllm-0.32.0-")
    assert all("system_fingerprint" not in chunk for chunk in text_chunks)


def test_empty_prompt_is_rejected(client: httpx.Client) -> None:
    response = client.post(COMPLETIONS_PATH, json={"prompt": ""})

    assert response.status_code == 400
    assert (
        "Either prompt or prompt_embeds must be provided and non-empty."
        in response.json()["error"]["message"]
    )
