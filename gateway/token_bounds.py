"""Upper bounds on what a request can consume, for quota reservations.

A reservation must never be smaller than what the request can really use (or budgets overspend
under concurrency), yet should not be so large that small budgets refuse everything. Byte-level
BPE tokenizers, which every vLLM model uses, never produce more tokens than the text has UTF-8
bytes, so the prompt's bytes (plus a per-message allowance for the chat template) bound its tokens
without a tokenizer call; the model's context length bounds prompt and output together. (Output bounds are the quota
planner's: `Planner.output_allowance`.) Each operation's bound is its declaration's
`input_token_bound` (gateway/operations/), built from the pieces here.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "TEMPLATE_TOKENS_PER_MESSAGE",
    "TEMPLATE_TOKENS_PER_REQUEST",
    "content_bytes",
    "fields_token_bound",
    "messages_token_bound",
    "pairs_token_bound",
    "prompt_count",
]

# Role markers, separators and the generation prompt of a chat template, per message and per request.
TEMPLATE_TOKENS_PER_MESSAGE = 16
TEMPLATE_TOKENS_PER_REQUEST = 32
# An image part counts as this many tokens at most (vLLM models cap image tokens well below it).
_IMAGE_TOKENS = 8192


def content_bytes(content: Any) -> int:
    """At least the tokens of a prompt, input or content value: its UTF-8 bytes, a fixed allowance
    per image or sound, one per token id."""
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
                    total += content_bytes(list(part.values()))
            elif isinstance(part, str):
                total += len(part.encode("utf-8", "surrogatepass"))
            elif isinstance(part, int):
                total += 1  # a token id
            elif isinstance(part, list):
                total += content_bytes(part)
        return total
    if isinstance(content, dict):
        return content_bytes(list(content.values()))
    return 0


def fields_token_bound(payload: dict[str, Any], fields: tuple[str, ...]) -> int:
    """At least the prompt tokens of a request whose prompt is the content of `fields`."""
    return TEMPLATE_TOKENS_PER_REQUEST + content_bytes([payload.get(field) for field in fields])


def messages_token_bound(messages: Any) -> int:
    """At least the prompt tokens of a conversation put through a chat template (no tools): every
    value of each message, its role and tool calls included, plus the template's allowances."""
    if not isinstance(messages, list):
        return TEMPLATE_TOKENS_PER_REQUEST
    return TEMPLATE_TOKENS_PER_REQUEST + sum(
        TEMPLATE_TOKENS_PER_MESSAGE + content_bytes(message) for message in messages
    )


def prompt_count(value: Any) -> int:
    """How many prompts an input encodes separately: one per item of a list of texts (or of token
    id lists), one for a text or a single list of token ids."""
    if isinstance(value, list) and value and not isinstance(value[0], int):
        return len(value)
    return 1


def pairs_token_bound(first: Any, second: Any, per_pair: int = 0) -> int:
    """At least the prompt tokens of scoring `first` against `second` (a text or a list of them),
    1:1, 1:N or N:N, as a cross-encoder does: one prompt per pair, holding both texts, separators
    and `per_pair` more tokens (an instruction). An embedding model encodes each text once, fewer."""
    count_1, count_2 = prompt_count(first), prompt_count(second)
    pairs = max(count_1, count_2)
    # A lone text is repeated in every pair; in N:N each text is in one pair.
    repeats_1 = pairs if count_1 == 1 else 1
    repeats_2 = pairs if count_2 == 1 else 1
    return (
        TEMPLATE_TOKENS_PER_REQUEST
        + pairs * (TEMPLATE_TOKENS_PER_MESSAGE + per_pair)
        + repeats_1 * content_bytes(first)
        + repeats_2 * content_bytes(second)
    )
