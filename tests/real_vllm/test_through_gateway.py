"""The gateway in front of real vLLM, driven by the official `openai` SDK: what a client sees through
the gateway is what vLLM answered, usage and counters included."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import openai
import pytest

from tests.gateway.conftest import DEPARTMENT, RunningGateway, issue_key
from tests.real_vllm.metrics import counter, gauge
from tests.real_vllm.servers import EMBED_MODEL, GENERATE_MODEL, RERANK_MODEL, STARTUP_SECONDS, VllmServers
from tests.waiting import wait_for

# The first test waits for the servers to start as well (STARTUP_SECONDS at the most).
pytestmark = [pytest.mark.real_vllm, pytest.mark.timeout(STARTUP_SECONDS + 120)]

MESSAGES: list[Any] = [{"role": "user", "content": "Résume ce courrier de la préfecture."}]


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.v1, api_key=gateway.api_key, max_retries=0, timeout=60) as sdk:
        yield sdk


def _direct_and_through(
    gateway: RunningGateway, vllm_url: str, path: str, body: dict[str, Any]
) -> tuple[httpx.Response, httpx.Response]:
    direct = httpx.post(f"{vllm_url}{path}", json=body, timeout=60)
    through = httpx.post(f"{gateway.url}{path}", json=body, headers=gateway.headers, timeout=60)
    return direct, through


def test_chat_answer_and_usage(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=GENERATE_MODEL, messages=MESSAGES, max_tokens=8, temperature=0
    )
    assert reply.object == "chat.completion"
    assert reply.model == GENERATE_MODEL
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].finish_reason in {"length", "stop"}
    assert reply.usage is not None
    assert 0 < reply.usage.completion_tokens <= 8
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"model": GENERATE_MODEL, "messages": MESSAGES, "max_tokens": 12}),
        ("/v1/completions", {"model": GENERATE_MODEL, "prompt": "Le ministère", "max_tokens": 12}),
        ("/v1/responses", {"model": GENERATE_MODEL, "input": "Le ministère", "max_output_tokens": 12}),
    ],
    ids=["chat", "completions", "responses"],
)
def test_greedy_answers_are_byte_identical(
    gateway: RunningGateway, vllm: VllmServers, path: str, body: dict[str, Any]
) -> None:
    body = {**body, "temperature": 0}
    direct, through = _direct_and_through(gateway, vllm.generate, path, body)
    assert direct.status_code == through.status_code == 200, through.text
    expected, seen = direct.json(), through.json()
    if path == "/v1/responses":
        assert (
            seen["output"][0]["content"][0]["text"].encode()
            == expected["output"][0]["content"][0]["text"].encode()
        )
        assert seen["usage"]["output_tokens"] == expected["usage"]["output_tokens"]
        return
    key = "message" if path == "/v1/chat/completions" else None
    text = seen["choices"][0][key]["content"] if key else seen["choices"][0]["text"]
    reference = expected["choices"][0][key]["content"] if key else expected["choices"][0]["text"]
    assert text.encode() == reference.encode()
    assert seen["usage"] == expected["usage"]
    assert set(seen) == set(expected), "the gateway must pass every field vLLM wrote"


def test_greedy_stream_is_byte_identical_to_vllm(
    client: openai.OpenAI, gateway: RunningGateway, vllm: VllmServers
) -> None:
    body = {"model": GENERATE_MODEL, "messages": MESSAGES, "max_tokens": 12, "temperature": 0}
    direct = httpx.post(f"{vllm.generate}/v1/chat/completions", json=body, timeout=60).json()
    stream = client.chat.completions.create(
        model=GENERATE_MODEL, messages=MESSAGES, max_tokens=12, temperature=0, stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(chunk.usage is None for chunk in chunks), "no usage chunk the client did not ask for"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == direct["choices"][0]["message"]["content"]
    assert chunks[-1].choices[0].finish_reason == direct["choices"][0]["finish_reason"]


def test_stream_with_include_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=GENERATE_MODEL,
        messages=MESSAGES,
        max_tokens=10,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    chunks = list(stream)
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 10
    tokens = sum(1 for chunk in chunks if chunk.choices and chunk.choices[0].delta.content is not None)
    assert tokens >= 1


def test_n_choices_and_logprobs(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=GENERATE_MODEL,
        messages=MESSAGES,
        max_tokens=6,
        n=3,
        temperature=1.0,
        seed=7,
        logprobs=True,
        top_logprobs=2,
        extra_body={"ignore_eos": True},
    )
    assert sorted(choice.index for choice in reply.choices) == [0, 1, 2]
    for choice in reply.choices:
        assert choice.logprobs is not None and choice.logprobs.content is not None
        assert len(choice.logprobs.content) == 6
        assert all(len(entry.top_logprobs) == 2 for entry in choice.logprobs.content)
    assert reply.usage is not None and reply.usage.completion_tokens == 18


def test_vllm_sampling_extras_reach_the_engine(client: openai.OpenAI, vllm: VllmServers) -> None:
    greedy = httpx.post(
        f"{vllm.generate}/v1/completions",
        json={
            "model": GENERATE_MODEL,
            "prompt": "Le ministère",
            "max_tokens": 9,
            "temperature": 0,
            "ignore_eos": True,
        },
        timeout=60,
    ).json()
    reply = client.completions.create(
        model=GENERATE_MODEL,
        prompt="Le ministère",
        max_tokens=9,
        temperature=1.0,
        logprobs=3,
        # top_k 1 makes sampling greedy: the answer equals the temperature-0 one only if it arrived.
        extra_body={
            "top_k": 1,
            "min_p": 0.01,
            "repetition_penalty": 1.0,
            "min_tokens": 9,
            "ignore_eos": True,
        },
    )
    assert reply.choices[0].text == greedy["choices"][0]["text"], "top_k did not reach the engine"
    assert reply.usage is not None and reply.usage.completion_tokens == 9, (
        "min_tokens/ignore_eos were dropped"
    )
    logprobs = reply.choices[0].logprobs
    assert logprobs is not None and logprobs.top_logprobs is not None
    assert len(logprobs.tokens or []) == 9
    # The 3 best tokens, and the sampled one when it is not among them.
    assert all(1 <= len(entry) <= 4 for entry in logprobs.top_logprobs)


def test_completions_stream(client: openai.OpenAI) -> None:
    stream = client.completions.create(
        model=GENERATE_MODEL,
        prompt="Le ministère",
        max_tokens=7,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7
    assert any(chunk.choices and chunk.choices[0].finish_reason == "length" for chunk in chunks)


def test_responses_streamed_and_not(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=GENERATE_MODEL, input="Bonjour", max_output_tokens=6, temperature=0
    )
    assert response.status in {"completed", "incomplete"}
    assert response.usage is not None and 0 < response.usage.output_tokens <= 6
    events = list(
        client.responses.create(
            model=GENERATE_MODEL, input="Bonjour", max_output_tokens=6, temperature=0, stream=True
        )
    )
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] in {"response.completed", "response.incomplete"}
    text = "".join(
        getattr(event, "delta", "") for event in events if event.type == "response.output_text.delta"
    )
    assert text == response.output_text


@pytest.mark.parametrize(
    "extra",
    [
        {"max_tokens": 5000},  # beyond the model's context
        {"temperature": -1},
        {"top_k": -5},
        {"logprobs": True, "top_logprobs": 50},
    ],
    ids=["context", "temperature", "top_k", "top_logprobs"],
)
def test_vllm_4xx_errors_are_relayed_unchanged(
    gateway: RunningGateway, vllm: VllmServers, extra: dict[str, Any]
) -> None:
    body = {"model": GENERATE_MODEL, "messages": MESSAGES, **extra}
    direct, through = _direct_and_through(gateway, vllm.generate, "/v1/chat/completions", body)
    assert 400 <= direct.status_code < 500
    assert through.status_code == direct.status_code
    assert through.json() == direct.json()


def test_embeddings(client: openai.OpenAI, gateway: RunningGateway, vllm: VllmServers) -> None:
    reply = client.embeddings.create(model=EMBED_MODEL, input=["bonjour le monde", "au revoir"])
    assert [item.index for item in reply.data] == [0, 1]
    assert len(reply.data[0].embedding) == 256
    direct = httpx.post(
        f"{vllm.embed}/v1/embeddings", json={"model": EMBED_MODEL, "input": ["bonjour le monde", "au revoir"]}
    ).json()
    assert reply.data[0].embedding == pytest.approx(direct["data"][0]["embedding"], abs=1e-6)
    assert reply.usage.prompt_tokens == direct["usage"]["prompt_tokens"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/embeddings", {"model": GENERATE_MODEL, "input": "bonjour"}),
        ("/v1/chat/completions", {"model": EMBED_MODEL, "messages": MESSAGES}),
        ("/v1/completions", {"model": EMBED_MODEL, "prompt": "bonjour"}),
    ],
    ids=["embed-on-generator", "chat-on-embedder", "completions-on-embedder"],
)
def test_an_operation_the_model_does_not_serve(
    client: openai.OpenAI, gateway: RunningGateway, path: str, body: dict[str, Any]
) -> None:
    response = httpx.post(f"{gateway.url}{path}", json=body, headers=gateway.headers, timeout=30)
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert body["model"] in error["message"]
    # The backend is sound: it stays in service for what it does serve.
    for _ in range(3):
        httpx.post(f"{gateway.url}{path}", json=body, headers=gateway.headers, timeout=30)
    if body["model"] == GENERATE_MODEL:
        assert client.chat.completions.create(model=GENERATE_MODEL, messages=MESSAGES, max_tokens=2).choices
    else:
        assert client.embeddings.create(model=EMBED_MODEL, input="bonjour").data
    ready = httpx.get(f"{gateway.url}/health/ready", timeout=10).json()
    assert ready["status"] == "ready", ready


def test_embeddings_on_the_generator_is_refused_by_the_gateway(client: openai.OpenAI) -> None:
    # The model's kind says it does not embed: refused before vLLM is asked, and not retried.
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model=GENERATE_MODEL, input="bonjour")
    assert refused.value.code == "operation_not_supported"
    assert GENERATE_MODEL in refused.value.message and "embeddings" in refused.value.message


_DOCUMENTS = ["La taxe foncière est due au 15 octobre.", "Il pleut à Brest.", "L'impôt sur le revenu."]


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank", "/v2/rerank"])
def test_rerank_on_the_cross_encoder(gateway: RunningGateway, vllm: VllmServers, path: str) -> None:
    body = {"model": RERANK_MODEL, "query": "impôts", "documents": _DOCUMENTS, "top_n": 2}
    direct, through = _direct_and_through(gateway, vllm.rerank, path, body)
    assert through.status_code == direct.status_code == 200, through.text
    answer = through.json()
    assert [r["index"] for r in answer["results"]] == [r["index"] for r in direct.json()["results"]]
    for result, expected in zip(answer["results"], direct.json()["results"], strict=True):
        assert result["relevance_score"] == pytest.approx(expected["relevance_score"], abs=1e-5)
        assert result["document"]["text"] == _DOCUMENTS[result["index"]]
    assert answer["usage"] == direct.json()["usage"]
    assert answer["usage"]["prompt_tokens"] > 0


@pytest.mark.parametrize("path", ["/v1/score", "/score"])
def test_score_on_the_cross_encoder(gateway: RunningGateway, vllm: VllmServers, path: str) -> None:
    body = {"model": RERANK_MODEL, "text_1": "impôts", "text_2": _DOCUMENTS}
    direct, through = _direct_and_through(gateway, vllm.rerank, path, body)
    assert through.status_code == direct.status_code == 200, through.text
    scores = [item["score"] for item in through.json()["data"]]
    assert scores == pytest.approx([item["score"] for item in direct.json()["data"]], abs=1e-5)
    assert through.json()["usage"] == direct.json()["usage"]


def test_tokenize_on_the_generator(gateway: RunningGateway, vllm: VllmServers) -> None:
    body = {"model": GENERATE_MODEL, "prompt": "Le ministère de l'Intérieur"}
    direct, through = _direct_and_through(gateway, vllm.generate, "/tokenize", body)
    assert through.status_code == 200, through.text
    assert through.json() == direct.json()


def test_cards_say_what_each_model_serves(gateway: RunningGateway) -> None:
    cards = httpx.get(f"{gateway.v1}/models", headers=gateway.headers, timeout=10).json()["data"]
    operations = {card["id"]: set(card["operations"]) for card in cards}
    assert {"chat", "tokenize"} <= operations[GENERATE_MODEL]
    assert "embeddings" in operations[EMBED_MODEL] and "chat" not in operations[EMBED_MODEL]
    assert {"rerank", "score"} <= operations[RERANK_MODEL] and "embeddings" not in operations[RERANK_MODEL]


def _metrics(base_url: str) -> str:
    return httpx.get(f"{base_url}/metrics", timeout=10).text


def _finished(metrics: str) -> float:
    """Requests vLLM ran to their end (an aborted one may be counted, under `abort`)."""
    return sum(
        counter(metrics, "vllm:request_success_total", finished_reason=reason)
        for reason in ("stop", "length", "repetition")
    )


# The tiny model writes a thousand tokens in about a second on an idle machine: 32 choices of a
# thousand tokens each keep vLLM busy for several, so what is checked while it runs still runs.
LONG_CHOICES = 32
LONG_TOKENS = 1000


@contextmanager
def _long_stream(gateway: RunningGateway, events: int) -> Iterator[None]:
    """A stream of LONG_CHOICES x LONG_TOKENS, open until the block ends, after its first `events`
    events were read."""
    body = {
        "model": GENERATE_MODEL,
        "messages": MESSAGES,
        "max_tokens": LONG_TOKENS,
        "n": LONG_CHOICES,
        "stream": True,
        "ignore_eos": True,
    }
    with httpx.stream(
        "POST", f"{gateway.url}/v1/chat/completions", json=body, headers=gateway.headers, timeout=60
    ) as response:
        assert response.status_code == 200, response.read()
        lines = response.iter_lines()  # held: a dropped iterator would close the connection at once
        seen = 0
        for line in lines:
            seen += line.startswith("data: ")
            if seen == events:
                break
        yield


def test_backend_gauges_come_from_vllm_metrics(gateway: RunningGateway, vllm: VllmServers) -> None:
    def running() -> float:
        return gauge(_metrics(gateway.url), "gateway_backend_running", backend=vllm.generate)

    with _long_stream(gateway, events=1):
        assert gauge(_metrics(vllm.generate), "vllm:num_requests_running") >= 1
        assert wait_for(lambda: running() >= 1, seconds=10), "the gateway never saw vLLM's running requests"
    assert wait_for(lambda: running() == 0, seconds=20)


def test_a_client_leaving_mid_stream_stops_generation(gateway: RunningGateway, vllm: VllmServers) -> None:
    def metrics() -> str:
        return _metrics(vllm.generate)

    # What an earlier test left running ends first (aborted or not): only this stream is measured.
    assert wait_for(lambda: gauge(metrics(), "vllm:num_requests_running") == 0, seconds=30)
    finished_before = _finished(metrics())
    generated_before = counter(metrics(), "vllm:generation_tokens_total")
    with _long_stream(gateway, events=5):
        # The client leaves as soon as it has read them: asking vLLM anything now would keep the
        # stream open for as long as vLLM, busy with 32 sequences, takes to answer (seconds).
        pass
    assert wait_for(lambda: gauge(metrics(), "vllm:num_requests_running") == 0, seconds=20)
    # Started, then aborted rather than finished: vLLM generated some of it, counts no finished
    # request, and stopped well before the end.
    assert _finished(metrics()) == finished_before
    generated = counter(metrics(), "vllm:generation_tokens_total") - generated_before
    assert 0 < generated < LONG_CHOICES * LONG_TOKENS * 0.9, (
        f"vLLM generated {generated} tokens for a client that left"
    )


def test_usage_records_equal_vllm_token_counters(gateway: RunningGateway, vllm: VllmServers) -> None:
    service = f"usage-{time.monotonic_ns()}"
    key = issue_key(gateway.state.config, DEPARTMENT, service)
    headers = {"authorization": f"Bearer {key}"}

    def metrics() -> str:
        return _metrics(vllm.generate)

    prompt_before = counter(metrics(), "vllm:prompt_tokens_total")
    generated_before = counter(metrics(), "vllm:generation_tokens_total")
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("/v1/chat/completions", {"messages": MESSAGES, "max_tokens": 5}),
        ("/v1/chat/completions", {"messages": MESSAGES, "max_tokens": 7, "stream": True}),
        ("/v1/completions", {"prompt": "Le décret du", "max_tokens": 4}),
        ("/v1/completions", {"prompt": "La circulaire", "max_tokens": 6, "stream": True}),
        ("/v1/responses", {"input": "Bonjour", "max_output_tokens": 3}),
    ]
    for path, body in bodies:
        response = httpx.post(
            f"{gateway.url}{path}",
            json={"model": GENERATE_MODEL, "ignore_eos": True, **body},
            headers=headers,
            timeout=60,
        )
        assert response.status_code == 200, response.text
    prompt = counter(metrics(), "vllm:prompt_tokens_total") - prompt_before
    generated = counter(metrics(), "vllm:generation_tokens_total") - generated_before
    assert generated == 5 + 7 + 4 + 6 + 3

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
        return bool(rows) and rows[0]["requests"] == len(bodies)

    assert wait_for(recorded, seconds=10), rows
    assert rows[0]["prompt_tokens"] == prompt
    assert rows[0]["completion_tokens"] == generated


def test_32_concurrent_streams(gateway: RunningGateway) -> None:
    async def one(client: openai.AsyncOpenAI, index: int) -> tuple[int, str]:
        stream = await client.chat.completions.create(
            model=GENERATE_MODEL,
            messages=[{"role": "user", "content": f"Question {index}"}],
            max_tokens=16,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"ignore_eos": True},
        )
        usage, finish = 0, ""
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage.completion_tokens
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
        return usage, finish

    async def all_of_them() -> list[tuple[int, str]]:
        async with openai.AsyncOpenAI(
            base_url=gateway.v1, api_key=gateway.api_key, max_retries=0, timeout=120
        ) as client:
            return await asyncio.gather(*(one(client, index) for index in range(32)))

    results = asyncio.run(asyncio.wait_for(all_of_them(), timeout=180))
    assert results == [(16, "length")] * 32
