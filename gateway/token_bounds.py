"""Upper bounds on what a request can consume, for quota reservations.

A reservation must never be smaller than what the request can really use (or budgets overspend
under concurrency), yet should not be so large that small budgets refuse everything. Byte-level
BPE tokenizers, which every vLLM model uses, never produce more tokens than the text has UTF-8
bytes, so the prompt's bytes (plus a per-message allowance for the chat template) bound its tokens
without a tokenizer call; the model's context length bounds prompt and output together. (Output bounds are the quota
planner's: `Planner.output_allowance`.)
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.operations import Operation

__all__ = ["input_token_bound"]

_encode = msgspec.json.Encoder().encode

# Role markers, separators and the generation prompt of a chat template, per message and per request.
_TEMPLATE_TOKENS_PER_MESSAGE = 16
_TEMPLATE_TOKENS_PER_REQUEST = 32
# An image part counts as this many tokens at most (vLLM models cap image tokens well below it).
_IMAGE_TOKENS = 8192


def _content_bytes(content: Any) -> int:
    if isinstance(content, str):
        return len(content.encode("utf-8", "surrogatepass"))
    if isinstance(content, list):
        total = 0
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    total += len(text.encode("utf-8", "surrogatepass"))
                elif part.get("type") in ("image_url", "input_image", "input_audio", "image"):
                    total += _IMAGE_TOKENS
                else:
                    total += _content_bytes(list(part.values()))
            elif isinstance(part, str):
                total += len(part.encode("utf-8", "surrogatepass"))
            elif isinstance(part, int):
                total += 1  # a token id
            elif isinstance(part, list):
                total += _content_bytes(part)
        return total
    if isinstance(content, dict):
        return _content_bytes(list(content.values()))
    return 0


def input_token_bound(operation: Operation, payload: dict[str, Any]) -> int:
    """At least the number of prompt tokens the backend will count for this request."""
    if operation is Operation.CHAT:
        messages = payload.get("messages") or []
        total = _TEMPLATE_TOKENS_PER_REQUEST
        for message in messages:
            if isinstance(message, dict):
                total += _TEMPLATE_TOKENS_PER_MESSAGE + _content_bytes(message.get("content"))
                calls = message.get("tool_calls")
                if calls is not None:
                    total += len(_encode(calls))  # names and arguments, as the template will write them
        tools = payload.get("tools")
        if tools is not None:
            total += len(_encode(tools))  # the JSON schemas the template puts in the prompt
        return total
    if operation is Operation.COMPLETIONS:
        return _TEMPLATE_TOKENS_PER_REQUEST + _content_bytes([payload.get("prompt")])
    if operation is Operation.EMBEDDINGS:
        return _TEMPLATE_TOKENS_PER_REQUEST + _content_bytes([payload.get("input")])
    return _TEMPLATE_TOKENS_PER_REQUEST + _content_bytes([payload.get("input"), payload.get("instructions")])
