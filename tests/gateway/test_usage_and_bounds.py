"""Usage read from answers, and reservation bounds that are never below what a request consumes."""

from __future__ import annotations

import msgspec
import pytest

from gateway.operations import (
    CHAT,
    COMPLETIONS,
    COUNT_TOKENS,
    EMBEDDINGS,
    MESSAGES,
    RERANK,
    RESPONSES,
    SCORE,
)
from gateway.usage import Usage, usage_from_body


def test_usage_is_read_from_the_end_of_a_large_body() -> None:
    body = msgspec.json.encode(
        {
            "object": "list",
            "data": [{"embedding": "A" * 100_000, "usage": "not this one"}],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": 0,
                "prompt_tokens_details": {"cached_tokens": 4},
            },
            "kv_transfer_params": None,
        }
    )
    assert usage_from_body(body) == Usage(12, 0, 4)


@pytest.mark.parametrize(
    "body",
    [
        b'{"error": {"message": "x"}}',
        b'{"usage": null}',
        b'{"usage": {"prompt_tokens": 3',
        b"",
        b'{"usage":{"a":}}',
    ],
)
def test_bodies_without_usable_usage(body: bytes) -> None:
    assert usage_from_body(body) is None


def test_responses_api_naming() -> None:
    body = b'{"id":"resp_1","usage":{"input_tokens":5,"output_tokens":7,"input_tokens_details":{"cached_tokens":1}}}'
    assert usage_from_body(body) == Usage(5, 7, 1)


def _simulated_prompt_tokens(text: str) -> int:
    # Any byte-level BPE tokenizer gives at most one token per byte; the bound must hold for that worst case.
    return len(text.encode())


@pytest.mark.parametrize(
    "content",
    [
        "Bonjour, voici mon dossier n° 2026-114 — merci !",
        "数据" * 50,
        "🙂" * 20,
        [{"type": "text", "text": "première partie"}, {"type": "text", "text": "seconde"}],
    ],
)
def test_input_bound_covers_the_worst_tokenizer(content: object) -> None:
    payload = {
        "messages": [{"role": "system", "content": "Tu es utile."}, {"role": "user", "content": content}]
    }
    text = content if isinstance(content, str) else "".join(part["text"] for part in content)  # type: ignore[attr-defined]
    bound = CHAT.input_token_bound(payload)
    assert bound >= _simulated_prompt_tokens("Tu es utile.") + _simulated_prompt_tokens(text)
    assert bound > 0, "content parts must count"


def test_input_bound_for_other_operations() -> None:
    assert COMPLETIONS.input_token_bound({"prompt": [1, 2, 3, 4]}) >= 4
    assert EMBEDDINGS.input_token_bound({"input": ["un", "deux"]}) >= 5
    assert RESPONSES.input_token_bound({"input": "salut"}) >= 5


def test_tool_calls_and_tool_schemas_count() -> None:
    arguments = '{"ville": "Besançon", "date": "2026-11-24"}'
    calls = [{"id": "c1", "type": "function", "function": {"name": "meteo", "arguments": arguments}}]
    tools = [{"type": "function", "function": {"name": "meteo", "parameters": {"type": "object"}}}]
    bare = CHAT.input_token_bound({"messages": [{"role": "assistant", "content": None}]})
    with_calls = CHAT.input_token_bound(
        {"messages": [{"role": "assistant", "content": None, "tool_calls": calls}], "tools": tools},
    )
    assert with_calls - bare >= len(arguments.encode()) + len(b"meteo") * 2


def test_pooling_usage_has_no_completion_tokens() -> None:
    body = b'{"id":"rerank-1","results":[{"index":0,"document":{"text":"x"}}],"usage":{"prompt_tokens":9,"total_tokens":9}}'
    assert usage_from_body(body) == Usage(9, 0)


def test_a_cross_encoder_reads_the_query_with_every_document() -> None:
    query, documents = "impôt sur le revenu", ["taxe foncière", "météo", "revenu fiscal de référence"]
    bound = RERANK.input_token_bound({"query": query, "documents": documents})
    # One prompt per pair: the query's bytes once per document, each document once, separators.
    worst = sum(_simulated_prompt_tokens(query) + _simulated_prompt_tokens(d) + 3 for d in documents)
    assert bound >= worst
    assert RERANK.prompts({"query": query, "documents": documents}) >= len(documents)


@pytest.mark.parametrize(
    ("first", "second", "pairs"),
    [
        ("a" * 40, ["b" * 5, "c" * 7, "d"], [(40, 5), (40, 7), (40, 1)]),
        (["a" * 9, "b"], ["c" * 30, "d" * 2], [(9, 30), (1, 2)]),
    ],
)
def test_score_bounds_every_pair(first: object, second: object, pairs: list[tuple[int, int]]) -> None:
    for names in (("text_1", "text_2"), ("queries", "documents"), ("queries", "items"), ("data_1", "data_2")):
        payload = dict(zip(names, (first, second), strict=True))
        assert SCORE.input_token_bound(payload) >= sum(a + b + 3 for a, b in pairs), names
        assert SCORE.prompts(payload) >= len(pairs)


def test_a_batch_is_bounded_by_one_context_per_prompt() -> None:
    assert EMBEDDINGS.prompts({"input": ["un", "deux", "trois"]}) == 3
    assert EMBEDDINGS.prompts({"input": [1, 2, 3]}) == 1  # one prompt of token ids
    assert CHAT.prompts({"messages": []}) == 1


def test_anthropic_messages_usage_and_bound() -> None:
    # vLLM leaves the prefix-cache tokens out of `input_tokens`, as Anthropic does.
    body = b'{"type":"message","usage":{"input_tokens":5,"cache_read_input_tokens":3,"output_tokens":7}}'
    assert MESSAGES.usage_in_answer(body) == Usage(8, 7, 3)
    assert MESSAGES.usage_in_stream({"input_tokens": 4, "output_tokens": 2}) == Usage(4, 2)
    payload = {
        "system": [{"type": "text", "text": "Tu es utile."}],
        "messages": [{"role": "user", "content": "数据" * 10}],
        "tools": [{"name": "meteo", "input_schema": {"type": "object"}}],
    }
    assert (
        MESSAGES.input_token_bound(payload) >= len("Tu es utile.数据".encode()) + len("数据".encode()) * 9 + 5
    )
    assert COUNT_TOKENS.input_token_bound(payload) == 0  # a count runs no model: nothing reserved
