"""The simulator against real vLLM 0.32 (the CPU build): the same requests sent to both, the answers
compared by structure, never by value (the real models have random weights).

Each answer becomes a description, a set of lines: status, content type, the JSON's shape as
`path: type` lines (a list is described by the union of its items' shapes), the error's `type`,
`param` and `code`; a stream adds its framing, the order of its kinds of events and each kind's
shape. The two descriptions' difference must be exactly the case's entry in ALLOWED, each line with
the reason it stays: a new difference fails, and so does an allowance that no longer happens.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from backends.simulator import SimulatorSettings, create_app
from gateway.routing import vllm_metrics
from tests.real_vllm.servers import EMBED_MODEL, GENERATE_MODEL, RERANK_MODEL, STARTUP_SECONDS, VllmServers
from tests.servers import serve_in_thread

# The first test waits for the servers to start as well (STARTUP_SECONDS at the most).
pytestmark = [pytest.mark.real_vllm, pytest.mark.timeout(STARTUP_SECONDS + 120)]

Server = Literal["generate", "embed", "rerank"]
Json = Any

MESSAGES = [{"role": "user", "content": "Bonjour, pouvez-vous résumer ce courrier de la préfecture ?"}]
PROMPT = "Le ministère des Finances"
# Greedy and without EOS: a real answer has exactly max_tokens tokens, the same on every run.
GREEDY = {"temperature": 0, "ignore_eos": True}
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
TIMEOUT = 60.0


# --- Descriptions -----------------------------------------------------------------------------------


def _type_name(value: Json) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "object"


def shape(value: Json, path: str = "$", maps: frozenset[str] = frozenset()) -> set[str]:
    """`path: type` for every value in `value`. A list's items share the path `list[]`, so a list is
    described by the union of its items' shapes whatever its length. The objects at a path in `maps`
    are keyed by data (a token, a token id): their keys become `*`."""
    lines: set[str] = set()
    pending: list[tuple[str, Json]] = [(path, value)]
    while pending:
        where, item = pending.pop()
        lines.add(f"{where}: {_type_name(item)}")
        if isinstance(item, dict):
            if where in maps:
                pending.extend((f"{where}.*", child) for child in item.values())
            else:
                pending.extend((f"{where}.{key}", child) for key, child in item.items())
        elif isinstance(item, list):
            pending.extend((f"{where}[]", child) for child in item)
    return lines


def _collapsed(kinds: list[str]) -> str:
    """Kinds in order, runs of one kind written once: `role content finish usage`."""
    return " ".join(kind for kind, _ in itertools.groupby(kinds))


def chat_chunk_kind(chunk: Json) -> str:
    choices = chunk["choices"]
    if not choices:
        return "usage"
    if "role" in choices[0]["delta"]:
        return "role"
    return "content" if choices[0]["finish_reason"] is None else "finish"


def completion_chunk_kind(chunk: Json) -> str:
    choices = chunk["choices"]
    if not choices:
        return "usage"
    return "text" if choices[0]["finish_reason"] is None else "finish"


TOKEN_KINDS = {"content", "text", "finish"}


def describe_data_stream(text: str, kind_of: Callable[[Json], str], maps: frozenset[str]) -> set[str]:
    """A chat or completions stream: `data: ` blocks separated by blank lines, `[DONE]` last.

    The order of kinds is described for the whole stream, a choice's token chunks written `tokens`
    (the choices of `n` > 1 interleave as they come), and for each choice."""
    blocks = text.split("\n\n")
    lines = {f"framing: ends with a blank line: {blocks[-1] == ''}"}
    kinds: list[str] = []
    per_choice: dict[int, list[str]] = {}
    for block in blocks[:-1]:
        if block == "data: [DONE]":
            kinds.append("[DONE]")
        elif block.startswith("data: ") and "\n" not in block:
            chunk = json.loads(block.removeprefix("data: "))
            kind = kind_of(chunk)
            kinds.append("tokens" if kind in TOKEN_KINDS else kind)
            if chunk["choices"]:
                per_choice.setdefault(chunk["choices"][0]["index"], []).append(kind)
            lines |= {f"<{kind}> {line}" for line in shape(chunk, maps=maps)}
        else:
            kinds.append(f"unexpected block {block[:30]!r}")
    lines.add(f"events: {_collapsed(kinds)}")
    lines |= {f"events of choice {index}: {_collapsed(choice)}" for index, choice in per_choice.items()}
    return lines


def describe_event_stream(text: str) -> set[str]:
    """A Responses stream: `event: <type>` and `data: <json>` blocks, no `[DONE]`."""
    blocks = text.split("\n\n")
    lines = {f"framing: ends with a blank line: {blocks[-1] == ''}"}
    kinds: list[str] = []
    for block in blocks[:-1]:
        parts = block.split("\n")
        if len(parts) == 2 and parts[0].startswith("event: ") and parts[1].startswith("data: "):
            name = parts[0].removeprefix("event: ")
            event = json.loads(parts[1].removeprefix("data: "))
            lines.add(f"<{name}> event line names data.type: {event.get('type') == name}")
            lines |= {f"<{name}> {line}" for line in shape(event)}
            kinds.append(name)
        else:
            kinds.append(f"unexpected block {block[:30]!r}")
    lines.add(f"events: {_collapsed(kinds)}")
    return lines


def describe_json(body: Json, maps: frozenset[str]) -> set[str]:
    lines = shape(body, maps=maps)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            lines |= {f"error.{key} = {error.get(key)!r}" for key in ("type", "param", "code")}
        if "detail" in body:
            lines.add(f"detail = {body['detail']!r}")
    return lines


def describe(response: httpx.Response, maps: frozenset[str] = frozenset()) -> set[str]:
    """Everything about an answer that must not depend on who answered."""
    lines = {f"status {response.status_code}", f"content-type {response.headers.get('content-type')}"}
    media_type = response.headers.get("content-type", "").split(";")[0]
    if media_type == "text/event-stream":
        if response.text.startswith("event: "):
            return lines | describe_event_stream(response.text)
        kind_of = chat_chunk_kind if "chat.completion.chunk" in response.text else completion_chunk_kind
        return lines | describe_data_stream(response.text, kind_of, maps)
    if media_type == "application/json":
        return lines | describe_json(response.json(), maps)
    lines.add(f"body length {'zero' if not response.content else 'non-zero'}")
    return lines


# --- Allowed differences ------------------------------------------------------------------------------


def _unimplemented(method: str, paths: tuple[str, ...], reason: str) -> dict[str, str]:
    """A route vLLM registers and the simulator does not implement, seen from both sides."""
    allowed = {}
    for path in paths:
        allowed[f"sim only: {method} {path}: not registered"] = reason
        allowed[f"vllm only: {method} {path}: registered"] = reason
    return allowed


_SAGEMAKER = "SageMaker's entry point (it dispatches on the body): no client of the gateway uses it."
ALLOWED: dict[str, dict[str, str]] = {
    "routes generate": _unimplemented("POST", ("/invocations",), _SAGEMAKER),
    "routes embed": _unimplemented("POST", ("/invocations",), _SAGEMAKER),
    "routes rerank": _unimplemented("POST", ("/invocations",), _SAGEMAKER),
}
"""Per case, each difference that stays (`sim only: ...` / `vllm only: ...`) and why. Tool calling,
which differs as a whole, has its own test below."""


def difference(simulated: set[str], real: set[str]) -> set[str]:
    return {f"sim only: {line}" for line in simulated - real} | {
        f"vllm only: {line}" for line in real - simulated
    }


def unexplained(case: str, simulated: set[str], real: set[str]) -> str | None:
    """What is wrong with the two descriptions' difference, or None when it is the allowed one."""
    found = difference(simulated, real)
    allowed = ALLOWED.get(case, {})
    unexpected = sorted(found - allowed.keys())
    stale = sorted(allowed.keys() - found)
    if not unexpected and not stale:
        return None
    return (
        f"{case}: new differences:\n  "
        + "\n  ".join(unexpected)
        + "\nallowed differences that no longer happen:\n  "
        + "\n  ".join(stale)
    )


def assert_same_structure(case: str, simulated: set[str], real: set[str]) -> None:
    problem = unexplained(case, simulated, real)
    assert problem is None, problem


# --- Servers -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """A simulator and the real server it imitates, serving the same model."""

    simulator: str
    real: str


@dataclass(frozen=True)
class Pairs:
    generate: Pair
    embed: Pair
    rerank: Pair

    def __getitem__(self, server: Server) -> Pair:
        pair: Pair = getattr(self, server)
        return pair


@pytest.fixture(scope="module")
def pairs(vllm: VllmServers) -> Iterator[Pairs]:
    """One simulator per kind of model, like one vLLM process per model, with the real models' context
    lengths (1,024 for the generator, the embedder's own 512)."""
    common: dict[str, Any] = {"ttft_ms": 0.0, "itl_ms": 0.0}
    generate = create_app(SimulatorSettings(models=(GENERATE_MODEL,), max_model_len=1024, **common))
    embed = create_app(SimulatorSettings(embedding_models=(EMBED_MODEL,), max_model_len=512, **common))
    rerank = create_app(SimulatorSettings(rerank_models=(RERANK_MODEL,), max_model_len=512, **common))
    with (
        serve_in_thread(generate) as generate_url,
        serve_in_thread(embed) as embed_url,
        serve_in_thread(rerank) as rerank_url,
    ):
        yield Pairs(
            Pair(generate_url, vllm.generate), Pair(embed_url, vllm.embed), Pair(rerank_url, vllm.rerank)
        )


@dataclass(frozen=True)
class Exchange:
    """One request, sent as JSON (`body`) or as raw bytes (`content`)."""

    path: str
    method: str = "POST"
    body: Json = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, base_url: str) -> httpx.Response:
        if self.content is not None:
            return httpx.request(
                self.method, base_url + self.path, content=self.content, headers=self.headers, timeout=TIMEOUT
            )
        if self.body is None:
            return httpx.request(self.method, base_url + self.path, headers=self.headers, timeout=TIMEOUT)
        return httpx.request(
            self.method, base_url + self.path, json=self.body, headers=self.headers, timeout=TIMEOUT
        )


def both(pairs: Pairs, server: Server, exchange: Exchange) -> tuple[httpx.Response, httpx.Response]:
    pair = pairs[server]
    return exchange.send(pair.simulator), exchange.send(pair.real)


# --- Answers ---------------------------------------------------------------------------------------------


def chat(**fields: Any) -> Json:
    body = {"model": GENERATE_MODEL, "messages": MESSAGES, "max_tokens": 8, **GREEDY, **fields}
    return {key: value for key, value in body.items() if value is not None}


def completion(**fields: Any) -> Json:
    body = {"model": GENERATE_MODEL, "prompt": PROMPT, "max_tokens": 8, **GREEDY, **fields}
    return {key: value for key, value in body.items() if value is not None}


QUERY = "Quelle est la capitale de la France ?"
DOCUMENTS = ["Paris est la capitale de la France.", "Le chat dort.", "Lyon est une grande ville."]


def rerank(**fields: Any) -> Json:
    return {"model": RERANK_MODEL, "query": QUERY, "documents": DOCUMENTS, **fields}


def anthropic(**fields: Any) -> Json:
    # Anthropic's API has no greedy flag: temperature 0 is greedy, top_k keeps vLLM's extras out.
    return {"model": GENERATE_MODEL, "messages": MESSAGES, "max_tokens": 8, "temperature": 0, **fields}


STREAM_TOKENS = 24
"""Streams are longer: real vLLM hands tokens that piled up while its API server was busy to one
chunk, and a stream needs chunks of every kind to be compared."""
STREAM_ATTEMPTS = 3
"""A real stream whose tokens all piled up into its last chunk is sent again, at most this often."""


# Completions' `top_logprobs` entries and `prompt_logprobs` entries are keyed by token and by token id.
COMPLETION_MAPS = frozenset({"$.choices[].logprobs.top_logprobs[]", "$.choices[].prompt_logprobs[]"})

ANSWERS: dict[str, tuple[Server, Exchange]] = {
    "chat": ("generate", Exchange("/v1/chat/completions", body=chat())),
    "chat n=2": ("generate", Exchange("/v1/chat/completions", body=chat(n=2, temperature=0.8, seed=3))),
    "chat logprobs": (
        "generate",
        Exchange("/v1/chat/completions", body=chat(logprobs=True, top_logprobs=2)),
    ),
    "chat tool_choice none": (
        "generate",
        Exchange("/v1/chat/completions", body=chat(tools=TOOLS, tool_choice="none")),
    ),
    "chat stream": (
        "generate",
        Exchange("/v1/chat/completions", body=chat(max_tokens=STREAM_TOKENS, stream=True)),
    ),
    "chat stream n=2": (
        "generate",
        Exchange(
            "/v1/chat/completions",
            body=chat(max_tokens=STREAM_TOKENS, stream=True, n=2, temperature=0.8, seed=3),
        ),
    ),
    "chat stream logprobs": (
        "generate",
        Exchange(
            "/v1/chat/completions",
            body=chat(max_tokens=STREAM_TOKENS, stream=True, logprobs=True, top_logprobs=2),
        ),
    ),
    "chat stream include_usage": (
        "generate",
        Exchange(
            "/v1/chat/completions",
            body=chat(max_tokens=STREAM_TOKENS, stream=True, stream_options={"include_usage": True}),
        ),
    ),
    "chat stream continuous_usage_stats": (
        "generate",
        Exchange(
            "/v1/chat/completions",
            body=chat(
                max_tokens=STREAM_TOKENS,
                stream=True,
                stream_options={"include_usage": True, "continuous_usage_stats": True},
            ),
        ),
    ),
    "completions": ("generate", Exchange("/v1/completions", body=completion())),
    "completions echo": ("generate", Exchange("/v1/completions", body=completion(echo=True))),
    "completions logprobs": ("generate", Exchange("/v1/completions", body=completion(logprobs=2))),
    "completions echo logprobs": (
        "generate",
        Exchange("/v1/completions", body=completion(echo=True, logprobs=2)),
    ),
    "completions prompt_logprobs": (
        "generate",
        Exchange("/v1/completions", body=completion(prompt_logprobs=1)),
    ),
    "completions token ids": ("generate", Exchange("/v1/completions", body=completion(prompt=[5, 6, 7]))),
    "completions stream": (
        "generate",
        Exchange("/v1/completions", body=completion(max_tokens=STREAM_TOKENS, stream=True)),
    ),
    "completions stream echo": (
        "generate",
        Exchange(
            "/v1/completions", body=completion(max_tokens=STREAM_TOKENS, stream=True, echo=True, logprobs=1)
        ),
    ),
    "completions stream continuous_usage_stats": (
        "generate",
        Exchange(
            "/v1/completions",
            body=completion(
                max_tokens=STREAM_TOKENS,
                stream=True,
                stream_options={"include_usage": True, "continuous_usage_stats": True},
            ),
        ),
    ),
    "completions stream include_usage logprobs": (
        "generate",
        Exchange(
            "/v1/completions",
            body=completion(
                max_tokens=STREAM_TOKENS, stream=True, stream_options={"include_usage": True}, logprobs=1
            ),
        ),
    ),
    "responses": (
        "generate",
        Exchange(
            "/v1/responses", body={"model": GENERATE_MODEL, "input": PROMPT, "max_output_tokens": 8, **GREEDY}
        ),
    ),
    "responses stream": (
        "generate",
        Exchange(
            "/v1/responses",
            body={
                "model": GENERATE_MODEL,
                "input": PROMPT,
                "max_output_tokens": STREAM_TOKENS,
                "stream": True,
                **GREEDY,
            },
        ),
    ),
    "responses with tools": (
        "generate",
        Exchange(
            "/v1/responses",
            body={
                "model": GENERATE_MODEL,
                "input": PROMPT,
                "max_output_tokens": 8,
                "tools": [{"type": "function", **TOOLS[0]["function"]}],
                **GREEDY,
            },
        ),
    ),
    "embeddings float": (
        "embed",
        Exchange("/v1/embeddings", body={"model": EMBED_MODEL, "input": ["Bonjour", "Au revoir"]}),
    ),
    "embeddings base64": (
        "embed",
        Exchange(
            "/v1/embeddings", body={"model": EMBED_MODEL, "input": "Bonjour", "encoding_format": "base64"}
        ),
    ),
    **{
        f"rerank {path}": ("rerank", Exchange(path, body=rerank()))
        for path in ("/rerank", "/v1/rerank", "/v2/rerank")
    },
    "rerank top_n": ("rerank", Exchange("/rerank", body=rerank(top_n=1))),
    "rerank on the embedder": ("embed", Exchange("/rerank", body=rerank(model=EMBED_MODEL))),
    "score text_1 text_2": (
        "rerank",
        Exchange("/score", body={"model": RERANK_MODEL, "text_1": QUERY, "text_2": DOCUMENTS}),
    ),
    "score queries documents": (
        "rerank",
        Exchange(
            "/v1/score", body={"model": RERANK_MODEL, "queries": [QUERY, QUERY], "documents": DOCUMENTS[:2]}
        ),
    ),
    "score on the embedder": (
        "embed",
        Exchange("/score", body={"model": EMBED_MODEL, "text_1": QUERY, "text_2": DOCUMENTS}),
    ),
    "classify": ("rerank", Exchange("/classify", body={"model": RERANK_MODEL, "input": DOCUMENTS})),
    "pooling rerank": ("rerank", Exchange("/pooling", body={"model": RERANK_MODEL, "input": DOCUMENTS})),
    "pooling embed": ("embed", Exchange("/pooling", body={"model": EMBED_MODEL, "input": DOCUMENTS})),
    "cohere embed": ("embed", Exchange("/v2/embed", body={"model": EMBED_MODEL, "texts": DOCUMENTS})),
    "cohere embed typed": (
        "embed",
        Exchange(
            "/v2/embed",
            body={
                "model": EMBED_MODEL,
                "texts": DOCUMENTS,
                "embedding_types": ["float", "ubinary", "base64"],
            },
        ),
    ),
    "messages": ("generate", Exchange("/v1/messages", body=anthropic())),
    "messages with system": (
        "generate",
        Exchange("/v1/messages", body=anthropic(system=[{"type": "text", "text": "Soyez bref."}])),
    ),
    "messages stream": (
        "generate",
        Exchange("/v1/messages", body=anthropic(max_tokens=STREAM_TOKENS, stream=True)),
    ),
    "messages count_tokens": (
        "generate",
        Exchange("/v1/messages/count_tokens", body={"model": GENERATE_MODEL, "messages": MESSAGES}),
    ),
    "models generate": ("generate", Exchange("/v1/models", "GET")),
    "models rerank": ("rerank", Exchange("/v1/models", "GET")),
    "tokenize rerank": ("rerank", Exchange("/tokenize", body={"model": RERANK_MODEL, "prompt": PROMPT})),
    "models embed": ("embed", Exchange("/v1/models", "GET")),
    "tokenize prompt": (
        "generate",
        Exchange("/tokenize", body={"model": GENERATE_MODEL, "prompt": PROMPT, "return_token_strs": True}),
    ),
    "tokenize messages": (
        "generate",
        Exchange("/tokenize", body={"model": GENERATE_MODEL, "messages": MESSAGES}),
    ),
    "tokenize embed": ("embed", Exchange("/tokenize", body={"model": EMBED_MODEL, "prompt": PROMPT})),
    "detokenize": ("generate", Exchange("/detokenize", body={"model": GENERATE_MODEL, "tokens": [5, 6, 7]})),
    "detokenize out of vocabulary": (
        "generate",
        Exchange("/detokenize", body={"model": GENERATE_MODEL, "tokens": [999999]}),
    ),
    "version": ("generate", Exchange("/version", "GET")),
    "health": ("generate", Exchange("/health", "GET")),
    "health embed": ("embed", Exchange("/health", "GET")),
    "ping": ("generate", Exchange("/ping", "GET")),
    "load": ("generate", Exchange("/load", "GET")),
}


@pytest.mark.parametrize("case", list(ANSWERS))
def test_answers_have_vllms_structure(pairs: Pairs, case: str) -> None:
    server, exchange = ANSWERS[case]
    pair = pairs[server]
    maps = COMPLETION_MAPS if exchange.path == "/v1/completions" else frozenset()
    simulated = describe(exchange.send(pair.simulator), maps)
    streamed = isinstance(exchange.body, dict) and bool(exchange.body.get("stream"))
    problem = None
    for _ in range(STREAM_ATTEMPTS if streamed else 1):
        problem = unexplained(case, simulated, describe(exchange.send(pair.real), maps))
        if problem is None:
            break
    assert problem is None, problem


def test_version_is_the_one_we_test_against(pairs: Pairs) -> None:
    simulated, real = both(pairs, "generate", Exchange("/version", "GET"))
    assert simulated.json() == real.json() == {"version": "0.32.0"}


# --- Errors -------------------------------------------------------------------------------------------------

LONG_PROMPT = "un deux " * 600
"""More tokens than either context (1,024 and 512) on both sides, in fewer characters than any bound
per token (4,800 < 10 x 512)."""
HUGE_PROMPT = "ab " * 5000
"""More characters than any bound per token allows (the simulator's 10, vLLM's 13 and 14 for the tiny
models' tokenizers, times the context): refused by both without being tokenized."""

ERRORS: dict[str, tuple[Server, Exchange]] = {
    "max_tokens above the context": (
        "generate",
        Exchange("/v1/chat/completions", body=chat(max_tokens=5000)),
    ),
    "max_completion_tokens above the context": (
        "generate",
        Exchange("/v1/chat/completions", body=chat(max_completion_tokens=5000)),
    ),
    # Under its bound of characters per token vLLM counts the tokens; above it, it refuses unread.
    "prompt above the context": (
        "generate",
        Exchange("/v1/completions", body=completion(prompt=LONG_PROMPT)),
    ),
    "prompt far above the context": (
        "generate",
        Exchange("/v1/completions", body=completion(prompt=HUGE_PROMPT)),
    ),
    "chat prompt above the context": (
        "generate",
        Exchange("/v1/chat/completions", body=chat(messages=[{"role": "user", "content": LONG_PROMPT}])),
    ),
    "chat prompt far above the context": (
        "generate",
        Exchange("/v1/chat/completions", body=chat(messages=[{"role": "user", "content": HUGE_PROMPT}])),
    ),
    "temperature -1": ("generate", Exchange("/v1/chat/completions", body=chat(temperature=-1))),
    "unknown model": ("generate", Exchange("/v1/chat/completions", body=chat(model="nope"))),
    "unknown model embed": ("embed", Exchange("/v1/embeddings", body={"model": "nope", "input": "x"})),
    "invalid JSON": (
        "generate",
        Exchange(
            "/v1/chat/completions",
            content=b'{"model": "tiny-llama",',
            headers={"content-type": "application/json"},
        ),
    ),
    "missing field": ("generate", Exchange("/v1/chat/completions", body={"model": GENERATE_MODEL})),
    "wrong type": ("generate", Exchange("/v1/chat/completions", body=chat(n="many"))),
    "wrong content type": (
        "generate",
        Exchange(
            "/v1/chat/completions",
            content=json.dumps(chat()).encode(),
            headers={"content-type": "text/plain"},
        ),
    ),
    "wrong method": ("generate", Exchange("/v1/chat/completions", "GET")),
    "unknown route": ("generate", Exchange("/v1/nothing-here", "GET")),
    "top_logprobs without logprobs": (
        "generate",
        Exchange("/v1/chat/completions", body=chat(top_logprobs=2)),
    ),
    "top_logprobs below -1": (
        "generate",
        Exchange("/v1/chat/completions", body=chat(logprobs=True, top_logprobs=-3)),
    ),
    "too many logprobs": ("generate", Exchange("/v1/completions", body=completion(logprobs=30))),
    "stream_options without stream": (
        "generate",
        Exchange("/v1/chat/completions", body=chat(stream_options={"include_usage": True})),
    ),
    "tool_choice without tools": (
        "generate",
        Exchange("/v1/chat/completions", body=chat(tool_choice="auto")),
    ),
    "named tool not in tools": (
        "generate",
        Exchange(
            "/v1/chat/completions",
            body=chat(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "other"}}),
        ),
    ),
    "n=0": ("generate", Exchange("/v1/chat/completions", body=chat(n=0))),
    "top_p=0": ("generate", Exchange("/v1/chat/completions", body=chat(top_p=0))),
    "negative max_tokens": ("generate", Exchange("/v1/chat/completions", body=chat(max_tokens=-1))),
    "body not an object": (
        "generate",
        Exchange("/v1/chat/completions", content=b"[1, 2]", headers={"content-type": "application/json"}),
    ),
    "completions without prompt": ("generate", Exchange("/v1/completions", body={"model": GENERATE_MODEL})),
    "completions max_tokens above the context": (
        "generate",
        Exchange("/v1/completions", body=completion(max_tokens=5000)),
    ),
    "completions token ids above the context": (
        "generate",
        Exchange("/v1/completions", body=completion(prompt=[5] * 1100)),
    ),
    "completions token ids filling the context": (
        "generate",
        Exchange("/v1/completions", body=completion(prompt=[5] * 1024, max_tokens=None)),
    ),
    "completions token id out of vocabulary": (
        "generate",
        Exchange("/v1/completions", body=completion(prompt=[5, 999999])),
    ),
    "unknown model completions": ("generate", Exchange("/v1/completions", body=completion(model="nope"))),
    "responses max_output_tokens above the context": (
        "generate",
        Exchange("/v1/responses", body={"model": GENERATE_MODEL, "input": PROMPT, "max_output_tokens": 5000}),
    ),
    "responses prompt above the context": (
        "generate",
        Exchange("/v1/responses", body={"model": GENERATE_MODEL, "input": LONG_PROMPT}),
    ),
    "responses unknown model": (
        "generate",
        Exchange("/v1/responses", body={"model": "nope", "input": PROMPT}),
    ),
    "responses missing input": ("generate", Exchange("/v1/responses", body={"model": GENERATE_MODEL})),
    "responses background": (
        "generate",
        Exchange("/v1/responses", body={"model": GENERATE_MODEL, "input": PROMPT, "background": True}),
    ),
    "responses previous_response_id": (
        "generate",
        Exchange(
            "/v1/responses",
            body={"model": GENERATE_MODEL, "input": PROMPT, "previous_response_id": "resp_0123"},
        ),
    ),
    "responses named tool not in tools": (
        "generate",
        Exchange(
            "/v1/responses",
            body={
                "model": GENERATE_MODEL,
                "input": PROMPT,
                "tools": [{"type": "function", **TOOLS[0]["function"]}],
                "tool_choice": {"type": "function", "name": "other"},
            },
        ),
    ),
    "embeddings prompt above the context": (
        "embed",
        Exchange("/v1/embeddings", body={"model": EMBED_MODEL, "input": LONG_PROMPT}),
    ),
    "embeddings prompt far above the context": (
        "embed",
        Exchange("/v1/embeddings", body={"model": EMBED_MODEL, "input": HUGE_PROMPT}),
    ),
    "embeddings dimensions": (
        "embed",
        Exchange("/v1/embeddings", body={"model": EMBED_MODEL, "input": "Bonjour", "dimensions": 8}),
    ),
    "embeddings no input": ("embed", Exchange("/v1/embeddings", body={"model": EMBED_MODEL, "input": []})),
    "embeddings token id out of vocabulary": (
        "embed",
        Exchange("/v1/embeddings", body={"model": EMBED_MODEL, "input": [5, 999999]}),
    ),
    "rerank unknown model": ("rerank", Exchange("/rerank", body=rerank(model="nope"))),
    "rerank negative top_n": ("rerank", Exchange("/rerank", body=rerank(top_n=-1))),
    "rerank without documents": ("rerank", Exchange("/rerank", body={"model": RERANK_MODEL, "query": QUERY})),
    "rerank multimodal document": (
        "rerank",
        Exchange("/rerank", body=rerank(documents=[{"content": [{"type": "text", "text": "x"}]}])),
    ),
    "rerank prompt above the context": ("rerank", Exchange("/rerank", body=rerank(documents=[LONG_PROMPT]))),
    "score lengths 2:3": (
        "rerank",
        Exchange("/score", body={"model": RERANK_MODEL, "text_1": DOCUMENTS[:2], "text_2": DOCUMENTS}),
    ),
    "score no documents": (
        "rerank",
        Exchange("/score", body={"model": RERANK_MODEL, "text_1": QUERY, "text_2": []}),
    ),
    "score without a form": ("rerank", Exchange("/score", body={"model": RERANK_MODEL})),
    "classify without input": ("rerank", Exchange("/classify", body={"model": RERANK_MODEL})),
    "pooling dimensions": (
        "embed",
        Exchange("/pooling", body={"model": EMBED_MODEL, "input": "Bonjour", "dimensions": 8}),
    ),
    "pooling other task": (
        "embed",
        Exchange("/pooling", body={"model": EMBED_MODEL, "input": "x", "task": "classify"}),
    ),
    "cohere embed without texts": ("embed", Exchange("/v2/embed", body={"model": EMBED_MODEL})),
    "messages unknown model": ("generate", Exchange("/v1/messages", body=anthropic(model="nope"))),
    "messages max_tokens above the context": (
        "generate",
        Exchange("/v1/messages", body=anthropic(max_tokens=5000)),
    ),
    "messages max_tokens 0": ("generate", Exchange("/v1/messages", body=anthropic(max_tokens=0))),
    "messages without max_tokens": (
        "generate",
        Exchange("/v1/messages", body={"model": GENERATE_MODEL, "messages": MESSAGES}),
    ),
    "messages prompt above the context": (
        "generate",
        Exchange("/v1/messages", body=anthropic(messages=[{"role": "user", "content": LONG_PROMPT}])),
    ),
    "count_tokens unknown model": (
        "generate",
        Exchange("/v1/messages/count_tokens", body={"model": "nope", "messages": MESSAGES}),
    ),
    "tokenize without prompt or messages": (
        "generate",
        Exchange("/tokenize", body={"model": GENERATE_MODEL}),
    ),
    "tokenize unknown model": ("generate", Exchange("/tokenize", body={"model": "nope", "prompt": PROMPT})),
    "detokenize negative id": (
        "generate",
        Exchange("/detokenize", body={"model": GENERATE_MODEL, "tokens": [-1]}),
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_have_vllms_status_and_body(pairs: Pairs, case: str) -> None:
    server, exchange = ERRORS[case]
    simulated, real = both(pairs, server, exchange)
    assert real.status_code >= 400, real.text
    assert_same_structure(case, describe(simulated), describe(real))


# --- Tools ------------------------------------------------------------------------------------------------------

TOOL_CHOICES: dict[str, Json] = {
    "auto": None,
    "required": "required",
    "named": {"type": "function", "function": {"name": "get_weather"}},
}
PARSER_REQUIRED = {
    "auto": '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
    "required": 'tool_choice="required" requires --tool-call-parser to be set',
    "named": 'tool_choice=function "get_weather" requires --tool-call-parser to be set',
}


@pytest.mark.parametrize("choice", list(TOOL_CHOICES))
def test_tools_need_a_parser_the_simulator_pretends_to_have(pairs: Pairs, choice: str) -> None:
    """A difference that stays: the tested vLLM has no tool parser (tiny models have no tool format), so
    it refuses tool calling with a 400; the simulator behaves as if started with `--enable-auto-tool-choice
    --tool-call-parser`, because the gateway's tests need tool calls. What stays comparable: its answer
    when no tool is called has the structure of vLLM's plain answer."""
    body = chat(tools=TOOLS, tool_choice=TOOL_CHOICES[choice])
    simulated, real = both(pairs, "generate", Exchange("/v1/chat/completions", body=body))
    assert real.status_code == 400
    assert real.json()["error"]["message"] == PARSER_REQUIRED[choice]
    assert simulated.status_code == 200
    assert (simulated.json()["choices"][0]["message"].get("tool_calls") is None) == (choice == "auto")
    if choice == "auto":  # the prompt names no tool: a plain answer
        plain = Exchange("/v1/chat/completions", body=chat()).send(pairs.generate.real)
        assert_same_structure("chat", describe(simulated), describe(plain))


# --- Routes per kind of model --------------------------------------------------------------------------------

POST_ROUTES = (
    "/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/responses/resp_0123/cancel",
    "/v1/messages", "/v1/messages/count_tokens", "/v1/embeddings", "/pooling", "/classify", "/score",
    "/v1/score", "/rerank", "/v1/rerank", "/v2/rerank", "/v2/embed", "/v1/audio/transcriptions",
    "/v1/audio/translations", "/tokenize", "/detokenize", "/invocations", "/ping",
)  # fmt: skip
GET_ROUTES = ("/v1/models", "/v1/responses/resp_0123", "/health", "/ping", "/version", "/load", "/metrics")


def route_table(base_url: str) -> set[str]:
    """`METHOD path: registered` or `not registered` (FastAPI's 404 `{"detail":"Not Found"}`)."""
    table = set()
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        for method, paths in (("POST", POST_ROUTES), ("GET", GET_ROUTES)):
            for path in paths:  # a fixed list: bounded
                response = http.request(method, path, json={} if method == "POST" else None)
                unregistered = response.status_code == 404 and response.json() == {"detail": "Not Found"}
                table.add(f"{method} {path}: {'not registered' if unregistered else 'registered'}")
    return table


@pytest.mark.parametrize("server", ["generate", "embed", "rerank"])
def test_each_kind_of_model_registers_vllms_routes(pairs: Pairs, server: Server) -> None:
    pair = pairs[server]
    assert_same_structure(f"routes {server}", route_table(pair.simulator), route_table(pair.real))


def test_chat_on_a_pooling_server_is_fastapis_404(pairs: Pairs) -> None:
    simulated, real = both(pairs, "embed", Exchange("/v1/chat/completions", body=chat()))
    assert simulated.status_code == real.status_code == 404
    assert simulated.json() == real.json() == {"detail": "Not Found"}


# --- Metrics --------------------------------------------------------------------------------------------------

# Label values that are data, not vocabulary: compared by name only.
DATA_LABELS = {"model_name", "engine", "le"}


def metric_table(text: str) -> dict[str, set[str]]:
    """Per `vllm:` family: its type, label names and, for vocabulary labels, their values."""
    table: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("vllm:"):
            continue
        lines = table.setdefault(family.name, {f"{family.name} type {family.type}"})
        for sample in family.samples:
            lines.add(f"{family.name} sample {sample.name} labels {','.join(sorted(sample.labels))}")
            if family.name != "vllm:cache_config_info":
                lines |= {
                    f"{family.name} label {key}={value}"
                    for key, value in sample.labels.items()
                    if key not in DATA_LABELS
                }
    return table


GATEWAY_READS = {vllm_metrics._RUNNING, vllm_metrics._WAITING, vllm_metrics._KV_NAMES[0]}


METRICS_EXCHANGES: dict[Server, Exchange] = {
    "generate": Exchange("/v1/completions", body=completion()),
    "embed": Exchange("/v1/embeddings", body={"model": EMBED_MODEL, "input": "Bonjour"}),
    "rerank": Exchange("/rerank", body=rerank()),
}


@pytest.mark.parametrize("server", ["generate", "embed", "rerank"])
def test_metrics_have_vllms_names_and_labels(pairs: Pairs, server: Server) -> None:
    pair = pairs[server]
    # One finished request each, so that every labelled series exists on both.
    exchange = METRICS_EXCHANGES[server]
    both(pairs, server, exchange)
    simulated = httpx.get(f"{pair.simulator}/metrics", timeout=TIMEOUT)
    real = httpx.get(f"{pair.real}/metrics", timeout=TIMEOUT)
    assert simulated.headers["content-type"] == real.headers["content-type"]
    simulated_table, real_table = metric_table(simulated.text), metric_table(real.text)
    assert simulated_table.keys() & real_table.keys() >= GATEWAY_READS
    compared = simulated_table.keys() | GATEWAY_READS
    assert_same_structure(
        f"metrics {server}",
        set().union(*(simulated_table.get(name, set()) for name in compared)),
        set().union(*(real_table.get(name, set()) for name in compared)),
    )
