"""`POST /v1/rerank`, `/rerank` (Jina's shape) and `/v2/rerank` (Cohere's v2): documents ordered by
their relevance to a query. vLLM serves the three paths with one handler, one request shape and one
answer, so they are one operation. Nothing is generated; the answer may carry the documents back
(`results[].document.text`), where the placeholders of pseudonymized values are restored as in any
answer body."""

from __future__ import annotations

from typing import Any

from gateway.errors import InvalidRequest
from gateway.operations.base import Operation
from gateway.operations.schema import body
from gateway.parsing import type_error
from gateway.token_bounds import content_bytes, pairs_token_bound, prompt_count

__all__ = ["RERANK"]


def _check_body(payload: dict[str, Any]) -> None:
    for field in ("query", "documents"):
        if field not in payload:
            raise InvalidRequest(f"Missing required parameter: '{field}'.", param=field)
    query = payload["query"]
    if not isinstance(query, str | dict):  # a text, or vLLM's multimodal `{"content": [...]}`
        raise type_error("query", "a string", query)
    documents = payload["documents"]
    if not isinstance(documents, list | dict):
        raise type_error("documents", "an array of strings", documents)


def _input_token_bound(payload: dict[str, Any]) -> int:
    # A cross-encoder encodes the query with each document (an embedding model each text once: less).
    instruction = content_bytes(payload.get("instruction"))
    return pairs_token_bound(payload.get("query"), payload.get("documents"), per_pair=instruction)


def _prompts(payload: dict[str, Any]) -> int:
    return prompt_count(payload.get("documents")) + 1  # a pair per document, or the query alone


_BODY = body(
    required=("query", "documents"),
    query={
        "type": ["string", "object"],
        "description": 'A text, or vLLM\'s multimodal `{"content": [...]}`.',
    },
    documents={
        "type": ["array", "object"],
        "description": "The texts to order (or vLLM's multimodal object).",
    },
)


RERANK = Operation(
    value="rerank",
    routes=("/v1/rerank", "/rerank", "/v2/rerank"),
    upstream_path="/v1/rerank",
    check_body=_check_body,
    input_token_bound=_input_token_bound,
    genai_name="rerank",  # no well-known GenAI value for it
    pii_read_first=("query", "documents"),
    prompts=_prompts,
    summary="Order documents by their relevance to a query (Jina's and Cohere's rerank, as vLLM serves them).",
    body_schema=_BODY,
)
