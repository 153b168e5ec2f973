"""`POST /pooling`: the raw output of a pooling model's task for each input (vectors, probabilities);
nothing is generated, so no output is charged."""

from __future__ import annotations

from gateway.operations.base import Operation
from gateway.operations.pooled_input import (
    INPUT_OR_MESSAGES,
    check_input_or_messages,
    input_or_messages_bound,
    input_or_messages_prompts,
)

__all__ = ["POOLING"]

POOLING = Operation(
    value="pooling",
    routes=("/pooling",),
    upstream_path="/pooling",
    check_body=check_input_or_messages,
    input_token_bound=input_or_messages_bound,
    genai_name="pooling",  # no well-known GenAI value for it
    pii_read_first=("input", "messages"),
    prompts=input_or_messages_prompts,
    summary="The raw output of a pooling model for each input (vectors, probabilities).",
    body_schema=INPUT_OR_MESSAGES,
)
