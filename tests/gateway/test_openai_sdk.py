"""The official `openai` SDK, sync and async, pointed at the gateway: only base_url changes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.gateway.conftest import CHAT_MODEL, EMBEDDING_MODEL, SOLO_MODEL, Deployment, last_request


@pytest.fixture
def client(deployment: Deployment) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=deployment.gateway.v1, api_key=deployment.gateway.api_key, max_retries=0
    ) as client:
        yield client


def test_chat_completion(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "Bonjour"}], max_tokens=5
    )
    assert reply.object == "chat.completion"
    assert reply.id.startswith("chatcmpl-")
    assert reply.model == CHAT_MODEL
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 5
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 5


def test_chat_reaches_backend_as_sent(client: openai.OpenAI, deployment: Deployment) -> None:
    reply = client.chat.completions.create(
        model=SOLO_MODEL, messages=[{"role": "user", "content": "répète exactement ceci"}]
    )
    assert reply.choices[0].message.content == "répète exactement ceci"


def test_chat_stream_without_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "Bonjour"}], max_tokens=4, stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks), "the usage chunk the gateway asked for must be stripped"
    assert chunks[-1].choices[0].finish_reason == "length"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text


def test_chat_stream_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Bonjour"}],
        max_tokens=3,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3


def test_chat_with_tools(client: openai.OpenAI) -> None:
    tools: list[openai.types.chat.ChatCompletionToolParam] = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    reply = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Quel temps fait-il à Lyon ?"}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    calls = reply.choices[0].message.tool_calls
    assert calls is not None and len(calls) == 1
    call = calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert "city" in json.loads(call.function.arguments)


def test_chat_with_n_and_logprobs(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Bonjour"}],
        n=2,
        max_tokens=3,
        logprobs=True,
        top_logprobs=2,
    )
    assert [choice.index for choice in reply.choices] == [0, 1]
    for choice in reply.choices:
        assert choice.logprobs is not None and choice.logprobs.content
        assert len(choice.logprobs.content) == 3
        assert len(choice.logprobs.content[0].top_logprobs) == 2


def test_completions(client: openai.OpenAI) -> None:
    reply = client.completions.create(model=CHAT_MODEL, prompt="Il était une fois", max_tokens=6)
    assert reply.object == "text_completion"
    assert reply.choices[0].text
    assert reply.usage is not None and reply.usage.completion_tokens == 6


def test_completions_stream(client: openai.OpenAI) -> None:
    chunks = list(client.completions.create(model=CHAT_MODEL, prompt="Il était", max_tokens=4, stream=True))
    assert chunks
    assert all(chunk.choices for chunk in chunks)
    assert "".join(chunk.choices[0].text for chunk in chunks)


def test_embeddings(client: openai.OpenAI) -> None:
    reply = client.embeddings.create(model=EMBEDDING_MODEL, input=["premier texte", "second texte"])
    assert [item.index for item in reply.data] == [0, 1]
    assert len(reply.data[0].embedding) > 0
    assert reply.data[0].embedding != reply.data[1].embedding
    # The SDK asks for base64 by default and decodes it: the gateway must relay it untouched.
    again = client.embeddings.create(model=EMBEDDING_MODEL, input="premier texte", encoding_format="float")
    assert again.data[0].embedding == pytest.approx(reply.data[0].embedding, rel=1e-6)


def test_models(client: openai.OpenAI) -> None:
    listed = {model.id for model in client.models.list()}
    assert listed == {CHAT_MODEL, SOLO_MODEL, EMBEDDING_MODEL}
    assert client.models.retrieve(SOLO_MODEL).id == SOLO_MODEL
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")
    assert caught.value.code == "model_not_found"


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-17", messages=[{"role": "user", "content": "x"}])
    assert caught.value.code == "model_not_found"
    assert "gpt-17" in caught.value.message


def test_unknown_fields_pass_through_byte_for_byte(client: openai.OpenAI, deployment: Deployment) -> None:
    extras = {
        "top_k": 7,
        "min_p": 0.05,
        "structured_outputs": {"choice": ["oui", "non"]},
        "chat_template_kwargs": {"enable_thinking": False},
        "a_field_nobody_knows": {"nested": [1, 2.5, None, "é"]},
    }
    client.chat.completions.create(
        model=SOLO_MODEL, messages=[{"role": "user", "content": "x"}], max_tokens=2, extra_body=extras
    )
    received = json.loads(last_request(deployment.sim_echo)["body"])
    for key, value in extras.items():
        assert received[key] == value


def test_the_backend_receives_exactly_what_was_parsed(deployment: Deployment) -> None:
    # The gateway forwards the document it parsed, encoded again: every field and value, in the
    # client's order, unknown fields included; only spacing and number spellings may differ.
    body = b'{"model": "llama-3.1-8b",  "messages":[{"role":"user","content":"x"}], "temperature": 0.70, "zz": 1E2}'
    response = httpx.post(
        f"{deployment.gateway.v1}/chat/completions",
        content=body,
        headers={"content-type": "application/json", **deployment.gateway.headers},
    )
    assert response.status_code == 200
    sent = last_request(deployment.sim_echo)["body"]
    assert (
        sent
        == '{"model":"llama-3.1-8b","messages":[{"role":"user","content":"x"}],"temperature":0.7,"zz":100.0}'
    )


def test_stream_body_keeps_client_fields_and_adds_usage_option(deployment: Deployment) -> None:
    body = b'{"model":"llama-3.1-8b","stream":true,"messages":[{"role":"user","content":"x"}],"top_k":1}'
    with httpx.stream(
        "POST", f"{deployment.gateway.v1}/chat/completions", content=body, headers=deployment.gateway.headers
    ) as response:
        assert response.status_code == 200
        response.read()
    sent = last_request(deployment.sim_echo)["body"]
    assert sent.startswith(body[:-1].decode())
    assert json.loads(sent)["stream_options"] == {"include_usage": True}


@pytest.mark.asyncio
async def test_async_client_chat_and_stream(deployment: Deployment) -> None:
    async with openai.AsyncOpenAI(
        base_url=deployment.gateway.v1, api_key=deployment.gateway.api_key, max_retries=0
    ) as client:
        reply = await client.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "Salut"}], max_tokens=2
        )
        assert reply.choices[0].message.content
        stream = await client.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "Salut"}],
            max_tokens=2,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2
