"""`POST /classify`: class probabilities of each input, from a classification (or cross-encoder)
model; nothing is generated, so no output is charged."""

from __future__ import annotations

from gateway.operations.base import Operation
from gateway.operations.pooled_input import (
    INPUT_OR_MESSAGES,
    check_input_or_messages,
    input_or_messages_bound,
    input_or_messages_prompts,
)

__all__ = ["CLASSIFY"]

CLASSIFY = Operation(
    value="classify",
    routes=("/classify",),
    upstream_path="/classify",
    check_body=check_input_or_messages,
    input_token_bound=input_or_messages_bound,
    genai_name="classify",  # no well-known GenAI value for it
    pii_read_first=("input", "messages"),
    prompts=input_or_messages_prompts,
    summary="Class probabilities of each input, from a classification model.",
    body_schema=INPUT_OR_MESSAGES,
)
