"""`POST /v1/embeddings`: vectors for an input; nothing is generated, so no output is charged."""

from __future__ import annotations

from typing import Any

from gateway.operations.base import Operation
from gateway.operations.schema import body, text_or_array
from gateway.parsing import require_text_or_array
from gateway.token_bounds import fields_token_bound, prompt_count

__all__ = ["EMBEDDINGS"]

_INPUT_FIELDS = ("input",)


def _check_input(payload: dict[str, Any]) -> None:
    require_text_or_array(payload, "input")


def _input_token_bound(payload: dict[str, Any]) -> int:
    return fields_token_bound(payload, _INPUT_FIELDS)


def _prompts(payload: dict[str, Any]) -> int:
    return prompt_count(payload.get("input"))


_BODY = body(required=("input",), input=text_or_array("A text or token ids, or an array of them (a batch)."))


EMBEDDINGS = Operation(
    value="embeddings",
    routes=("/v1/embeddings",),
    upstream_path="/v1/embeddings",
    check_body=_check_input,
    input_token_bound=_input_token_bound,
    genai_name="embeddings",
    pii_read_first=("input",),
    prompts=_prompts,
    summary="Vectors representing each input (OpenAI's Embeddings).",
    body_schema=_BODY,
)
