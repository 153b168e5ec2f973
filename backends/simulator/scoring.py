"""``/score``, ``/v1/score`` and the rerank routes (``/rerank``, ``/v1/rerank``, ``/v2/rerank``).

A cross-encoder scores each (query, document) pair together; an embedding model embeds every text
alone and scores a pair by cosine similarity, as vLLM's bi-encoder scoring does. Either way the score
depends only on the model and the texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import UNSET, Struct

from backends.simulator import errors
from backends.simulator.asgi import send_response
from backends.simulator.engine import Engine
from backends.simulator.pooling_support import (
    ARCHITECTURES,
    PoolingKind,
    PoolingModel,
    bi_encoder_score,
    check_prompt,
    created_now,
    cross_encoder_score,
    pair_tokens,
    resolve_pooling_model,
    run_pooling,
    text_tokens,
    usage_info,
)
from backends.simulator.protocol import decode_request, field_error
from backends.simulator.serving import HTTPRequest, encode_json, new_id

SCORING_KINDS: tuple[PoolingKind, ...] = ("embedding", "cross-encoder")

SCORE_FORMS = (("queries", "documents"), ("queries", "items"), ("data_1", "data_2"), ("text_1", "text_2"))
"""The four bodies ``/score`` accepts (vLLM 0.32's ``ScoreRequest`` union), in vLLM's order."""


class ScoreBody(Struct, kw_only=True):
    """Any of the four ``/score`` bodies; which one it is is decided after decoding."""

    model: str | None = None
    queries: Any = UNSET
    documents: Any = UNSET
    items: Any = UNSET
    data_1: Any = UNSET
    data_2: Any = UNSET
    text_1: Any = UNSET
    text_2: Any = UNSET


class RerankBody(Struct, kw_only=True):
    """``RerankRequest`` (Jina's and Cohere's shape); vLLM 0.32 has no ``return_documents``: every
    result carries its document."""

    query: Any
    documents: Any
    model: str | None = None
    top_n: int = 0


@dataclass(frozen=True, slots=True)
class ScoredPairs:
    """The scores of a request's pairs, in the order of the second list, and the tokens they cost."""

    scores: list[float]
    prompt_tokens: int
    prompt: str


async def serve_score(engine: Engine, http: HTTPRequest) -> None:
    """Score each pair of the two lists (1:1, 1:N or N:N)."""
    body = decode_request(http.body, ScoreBody)
    form = _score_form(body, http.body)
    model = resolve_pooling_model(engine, body.model, SCORING_KINDS)
    first, second = (getattr(body, name) for name in form)
    scored = _score(engine, model, first, second)
    if not await run_pooling(
        engine, http, prompt=scored.prompt, prompt_tokens=scored.prompt_tokens, outputs=len(scored.scores)
    ):
        return
    answer = {
        "id": new_id("score"),
        "object": "list",
        "created": created_now(),
        "model": model.name,
        "data": [
            {"index": index, "object": "score", "score": score} for index, score in enumerate(scored.scores)
        ],
        "usage": usage_info(scored.prompt_tokens),
    }
    await send_response(http.send, 200, encode_json(answer))


async def serve_rerank(engine: Engine, http: HTTPRequest) -> None:
    """Score every document against the query, best first, the ``top_n`` first when it is set."""
    body = decode_request(http.body, RerankBody)
    if body.top_n < 0:
        raise errors.request_validation_failed(
            [
                {
                    "type": "greater_than_equal",
                    "loc": ("body", "top_n"),
                    "msg": "Input should be greater than or equal to 0",
                    "input": body.top_n,
                    "ctx": {"ge": 0},
                }
            ]
        )
    _check_score_input(body.query, "query", allow_list=False)
    _check_score_input(body.documents, "documents", allow_list=True)
    model = resolve_pooling_model(engine, body.model, SCORING_KINDS)
    documents = body.documents if isinstance(body.documents, list) else [body.documents]
    scored = _score(engine, model, body.query, documents)
    if not await run_pooling(
        engine, http, prompt=scored.prompt, prompt_tokens=scored.prompt_tokens, outputs=len(scored.scores)
    ):
        return
    ranked = sorted(
        enumerate(zip(documents, scored.scores, strict=True)), key=lambda item: item[1][1], reverse=True
    )
    results = [
        {"index": index, "document": {"text": document, "multi_modal": None}, "relevance_score": score}
        for index, (document, score) in ranked
    ]
    top_n = body.top_n or len(results)
    answer = {
        "id": new_id("score"),
        "model": model.name,
        "usage": {"prompt_tokens": scored.prompt_tokens, "total_tokens": scored.prompt_tokens},
        "results": results[:top_n],
    }
    await send_response(http.send, 200, encode_json(answer))


def _score_form(body: ScoreBody, raw: bytes) -> tuple[str, str]:
    """Which of the four bodies this is; none of them: pydantic's errors for a union, one per missing
    field of each member."""
    for form in SCORE_FORMS:
        if all(getattr(body, name) is not UNSET for name in form):
            for name in form:
                _check_score_input(getattr(body, name), name, allow_list=True)
            return form
    document = _document(raw)
    raise errors.request_validation_failed(
        [
            {"type": "missing", "loc": ("body", name), "msg": "Field required", "input": document}
            for form in SCORE_FORMS
            for name in form
            if getattr(body, name) is UNSET
        ]
    )


def _check_score_input(value: object, name: str, *, allow_list: bool) -> None:
    """A score input is a string or a ``{"content": [...]}`` object (or, where allowed, a list of them)."""
    items = value if allow_list and isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, str) or (isinstance(item, dict) and isinstance(item.get("content"), list)):
            continue
        raise errors.request_validation_failed(
            [field_error((name,), "Input should be a valid string", item, "string_type")]
        )


def _score(engine: Engine, model: PoolingModel, first: object, second: object) -> ScoredPairs:
    """vLLM's checks on the two lists, then every pair's score."""
    queries = first if isinstance(first, list) else [first]
    documents = second if isinstance(second, list) else [second]
    if any(not isinstance(item, str) for item in (*queries, *documents)):
        # The simulated models read text only, like the text models vLLM refuses these for.
        raise errors.bad_request(f"MultiModalParam is not supported for {ARCHITECTURES[model.kind]}")
    if len(queries) > 1 and len(queries) != len(documents):
        raise errors.bad_request("Input lengths must be either 1:1, 1:N or N:N")
    if not queries:
        raise errors.bad_request("At least one text element must be given")
    if not documents:
        raise errors.bad_request("At least one text_pair element must be given")
    texts_1 = [str(item) for item in queries]
    texts_2 = [str(item) for item in documents]
    pairs = [
        (texts_1[0] if len(texts_1) == 1 else texts_1[index], text) for index, text in enumerate(texts_2)
    ]
    if model.kind == "cross-encoder":
        prompt_tokens = 0
        for query, document in pairs:
            tokens = pair_tokens(query, document)
            check_prompt(engine, query + document, tokens)
            prompt_tokens += tokens
        scores = [cross_encoder_score(model.name, query, document) for query, document in pairs]
    else:
        # A bi-encoder embeds each query once and each document once.
        prompt_tokens = 0
        for text in (*texts_1, *texts_2):
            tokens = text_tokens(text)
            check_prompt(engine, text, tokens)
            prompt_tokens += tokens
        dimensions = engine.settings.embedding_dim
        scores = [bi_encoder_score(model.name, query, document, dimensions) for query, document in pairs]
    return ScoredPairs(scores, prompt_tokens, "".join(texts_1 + texts_2))


def _document(raw: bytes) -> object:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
