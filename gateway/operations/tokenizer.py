"""`POST /tokenize` and `/detokenize`: the model's tokenizer, without running the model.

Neither is charged: no output, and the tokens a client counts before sending a request are
charged when it sends it (a budget spent on counting would make clients skip the count). They are
still authorized, rate-limited and audited like any request, under their own policy actions.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import InvalidRequest
from gateway.operations.base import Operation
from gateway.operations.schema import array, body, text_or_array
from gateway.parsing import require_text_or_array, type_error
from gateway.usage import Usage

__all__ = ["DETOKENIZE", "TOKENIZE"]


def _check_tokenize(payload: dict[str, Any]) -> None:
    if "messages" in payload:
        if not isinstance(payload["messages"], list):
            raise type_error("messages", "an array", payload["messages"])
        return
    if "prompt" not in payload:
        raise InvalidRequest("Missing required parameter: 'prompt' (or 'messages').", param="prompt")
    require_text_or_array(payload, "prompt")


def _check_detokenize(payload: dict[str, Any]) -> None:
    if "tokens" not in payload:
        raise InvalidRequest("Missing required parameter: 'tokens'.", param="tokens")
    tokens = payload["tokens"]
    if not isinstance(tokens, list):
        raise type_error("tokens", "an array of integers", tokens)


def _not_charged(payload: dict[str, Any]) -> int:
    return 0


def _no_usage(body: bytes) -> Usage | None:
    """Nothing to charge: the reservation (rate and concurrency only) is released."""
    return None


_TOKENIZE_BODY = body(
    any_of=(("prompt",), ("messages",)),
    prompt=text_or_array("The text to tokenize."),
    messages=array("A chat conversation, tokenized as the model's chat template writes it."),
)
_DETOKENIZE_BODY = body(
    required=("tokens",), tokens=array("The token ids to turn back into text.", {"type": "integer"})
)


TOKENIZE = Operation(
    holds_engine_slot=False,
    value="tokenize",
    routes=("/tokenize",),
    upstream_path="/tokenize",
    check_body=_check_tokenize,
    input_token_bound=_not_charged,
    genai_name="tokenize",  # no well-known GenAI value for it
    pii_read_first=("prompt", "messages"),
    usage_in_answer=_no_usage,
    summary="The model's token ids for a text or a conversation (not charged).",
    body_schema=_TOKENIZE_BODY,
)

DETOKENIZE = Operation(
    holds_engine_slot=False,
    value="detokenize",
    routes=("/detokenize",),
    upstream_path="/detokenize",
    check_body=_check_detokenize,
    input_token_bound=_not_charged,
    genai_name="detokenize",  # no well-known GenAI value for it
    pii_read_first=("tokens",),
    usage_in_answer=_no_usage,
    summary="The text of token ids (not charged).",
    body_schema=_DETOKENIZE_BODY,
)
