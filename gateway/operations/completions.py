"""`POST /v1/completions`: a raw prompt (text or token ids) continued with `n` choices."""

from __future__ import annotations

from typing import Any

from gateway.operations.base import Operation, StreamProtocol
from gateway.operations.schema import CHOICES, MAX_TOKENS, STREAM, STREAM_OPTIONS, body, text_or_array
from gateway.parsing import require_text_or_array
from gateway.token_bounds import fields_token_bound

__all__ = ["COMPLETIONS"]

_INPUT_FIELDS = ("prompt",)


def _check_prompt(payload: dict[str, Any]) -> None:
    require_text_or_array(payload, "prompt")


def _input_token_bound(payload: dict[str, Any]) -> int:
    return fields_token_bound(payload, _INPUT_FIELDS)


def _affinity_text(payload: dict[str, Any], max_chars: int) -> str:
    """The start of the prompt (token ids as their written list)."""
    prompt = payload.get("prompt")
    return prompt if isinstance(prompt, str) else str(prompt)[:max_chars]


def _tokenize_prompt(payload: dict[str, Any]) -> dict[str, Any] | None:
    prompt = payload.get("prompt")
    return {"prompt": prompt} if isinstance(prompt, str) else None


_BODY = body(
    required=("prompt",),
    prompt=text_or_array("The text to continue, or token ids (or a batch of either)."),
    max_tokens=MAX_TOKENS,
    n=CHOICES,
    stream=STREAM,
    stream_options=STREAM_OPTIONS,
)


COMPLETIONS = Operation(
    vllm_priority_field=True,
    value="completions",
    routes=("/v1/completions",),
    upstream_path="/v1/completions",
    check_body=_check_prompt,
    input_token_bound=_input_token_bound,
    genai_name="text_completion",
    pii_read_first=("prompt", "suffix"),
    output_limit_field="max_tokens",
    stream_usage_option=True,
    stream_protocol=StreamProtocol.CHUNKS,
    tokenize_prompt=_tokenize_prompt,
    affinity_text=_affinity_text,
    summary="Continue a prompt (OpenAI's legacy Completions).",
    body_schema=_BODY,
)
