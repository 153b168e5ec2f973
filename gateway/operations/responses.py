"""`POST /v1/responses`: the Responses API, whose streams are typed events rather than chunks."""

from __future__ import annotations

from typing import Any

from gateway.operations.base import Operation, StreamProtocol
from gateway.operations.schema import MAX_TOKENS, STREAM, body, text_or_array
from gateway.parsing import require_text_or_array
from gateway.token_bounds import fields_token_bound

__all__ = ["RESPONSES"]

_INPUT_FIELDS = ("input", "instructions")


def _check_input(payload: dict[str, Any]) -> None:
    require_text_or_array(payload, "input")


def _input_token_bound(payload: dict[str, Any]) -> int:
    return fields_token_bound(payload, _INPUT_FIELDS)


_BODY = body(
    required=("input",),
    input=text_or_array("A text, or an array of input items (messages, tool outputs)."),
    max_output_tokens=MAX_TOKENS,
    stream=STREAM,
)


RESPONSES = Operation(
    vllm_priority_field=True,
    value="responses",
    routes=("/v1/responses",),
    upstream_path="/v1/responses",
    check_body=_check_input,
    input_token_bound=_input_token_bound,
    genai_name="chat",  # the well-known value: the Responses API generates chat turns
    pii_read_first=("instructions", "input"),
    output_limit_field="max_output_tokens",
    # vLLM's Responses API always reports usage in its terminal event; it has no `stream_options`.
    stream_usage_option=False,
    stream_protocol=StreamProtocol.RESPONSE_EVENTS,
    summary="Generate a response to input items (OpenAI's Responses API).",
    body_schema=_BODY,
)
