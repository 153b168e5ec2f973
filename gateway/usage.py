"""The `usage` block a backend reports, read from a response body without decoding all of it.

Non-streamed answers can be large (embeddings, logprobs) while `usage` is a small object near the
end; only that object is decoded.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

__all__ = [
    "Usage",
    "audio_usage_from_body",
    "audio_usage_from_dict",
    "usage_from_body",
    "usage_from_dict",
    "usage_object",
]

_USAGE_KEY = b'"usage":'
_decode = msgspec.json.Decoder().decode


class Usage(msgspec.Struct, frozen=True):
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    audio_seconds: int = 0
    """Seconds of audio the request was billed for (`usage.seconds` of a transcription)."""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def usage_from_dict(block: Any) -> Usage | None:
    """From an OpenAI `usage` object (chat, completions, embeddings or responses naming)."""
    if not isinstance(block, dict):
        return None
    prompt = _int(block.get("prompt_tokens", block.get("input_tokens")))
    completion = _int(block.get("completion_tokens", block.get("output_tokens")))
    details = block.get("prompt_tokens_details") or block.get("input_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return Usage(prompt, completion, cached)


def usage_from_body(body: bytes) -> Usage | None:
    """The usage of a JSON answer, or None when it has none (errors, unusual backends)."""
    return usage_from_dict(usage_object(body))


def usage_object(body: bytes) -> Any:
    """The decoded `usage` object of a JSON answer, or None; each API reads its own naming from it."""
    start = body.rfind(_USAGE_KEY)
    if start < 0:
        return None
    position = start + len(_USAGE_KEY)
    while position < len(body) and body[position] in b" \t\r\n":
        position += 1
    if position >= len(body) or body[position] != ord("{"):
        return None
    depth = 0
    # The usage object holds numbers and nested objects only: no string can hide a brace.
    for index in range(position, min(len(body), position + 4096)):
        byte = body[index]
        if byte == 0x7B:
            depth += 1
        elif byte == 0x7D:
            depth -= 1
            if depth == 0:
                try:
                    return _decode(body[position : index + 1])
                except msgspec.DecodeError:
                    return None
    return None


def audio_usage_from_dict(block: Any) -> Usage | None:
    """From a transcription's `usage`: `{"type": "duration", "seconds"}` in a whole answer, tokens in
    a stream's usage chunk; whichever it holds."""
    usage = usage_from_dict(block)
    if usage is None:
        return None
    seconds = block.get("seconds")
    if (
        isinstance(seconds, int | float)
        and not isinstance(seconds, bool)
        and math.isfinite(seconds)
        and seconds > 0
    ):
        # Whole seconds, rounded up as OpenAI bills them (vLLM already reports an integer).
        return Usage(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, math.ceil(seconds))
    return usage


def audio_usage_from_body(body: bytes) -> Usage | None:
    return audio_usage_from_dict(usage_object(body))
