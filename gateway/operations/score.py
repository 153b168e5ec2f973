"""`POST /v1/score` and `/score`: the similarity of texts, pairwise (1:1, 1:N or N:N). vLLM accepts
four spellings of the two sides; whichever the request uses is checked, bounded and scanned."""

from __future__ import annotations

from typing import Any

from gateway.errors import InvalidRequest
from gateway.operations.base import Operation
from gateway.operations.schema import body
from gateway.parsing import type_error
from gateway.token_bounds import content_bytes, pairs_token_bound, prompt_count

__all__ = ["SCORE"]

# vLLM's request shapes, in the order its union tries them.
_SIDES = (("queries", "documents"), ("queries", "items"), ("data_1", "data_2"), ("text_1", "text_2"))


def _sides(payload: dict[str, Any]) -> tuple[str, str] | None:
    for first, second in _SIDES:
        if first in payload and second in payload:
            return first, second
    return None


def _check_body(payload: dict[str, Any]) -> None:
    sides = _sides(payload)
    if sides is None:
        raise InvalidRequest(
            "Missing required parameters: 'text_1' and 'text_2' (or 'queries' and 'documents', "
            "'queries' and 'items', 'data_1' and 'data_2').",
            param="text_1",
        )
    for field in sides:
        value = payload[field]
        if not isinstance(value, str | list | dict):
            raise type_error(field, "a string or an array", value)


def _input_token_bound(payload: dict[str, Any]) -> int:
    sides = _sides(payload) or _SIDES[-1]
    instruction = content_bytes(payload.get("instruction"))
    return pairs_token_bound(payload.get(sides[0]), payload.get(sides[1]), per_pair=instruction)


def _prompts(payload: dict[str, Any]) -> int:
    sides = _sides(payload) or _SIDES[-1]
    return prompt_count(payload.get(sides[0])) + prompt_count(payload.get(sides[1]))


_SIDE = {"type": ["string", "array", "object"], "description": "One side: a text, or an array of them."}
_BODY = body(
    any_of=_SIDES,
    text_1=_SIDE,
    text_2=_SIDE,
    queries=_SIDE,
    documents=_SIDE,
    items=_SIDE,
    data_1=_SIDE,
    data_2=_SIDE,
)


SCORE = Operation(
    value="score",
    routes=("/v1/score", "/score"),
    upstream_path="/v1/score",
    check_body=_check_body,
    input_token_bound=_input_token_bound,
    genai_name="score",  # no well-known GenAI value for it
    pii_read_first=("text_1", "text_2", "queries", "documents", "items", "data_1", "data_2"),
    prompts=_prompts,
    summary="Similarity scores of pairs of texts (1:1, 1:N or N:N).",
    body_schema=_BODY,
)
