"""The `usage` block a backend reports, read from a response body without decoding all of it.

Non-streamed answers can be large (embeddings, logprobs) while `usage` is a small object near the
end; only that object is decoded.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from gateway.audio_duration import AUDIO_TOKENS_PER_SECOND

__all__ = [
    "Usage",
    "audio_usage_from_body",
    "audio_usage_from_dict",
    "metered_audio",
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
    """Seconds of audio the request was billed for (`usage.seconds` of a transcription), or the
    length the gateway read from the file when the backend reported none (`metered_audio`)."""

    @property
    def billed_in_seconds(self) -> bool:
        """Whether the request is billed by its seconds of audio: it has some and no token was
        reported (a whole transcription, a translation). A stream reports tokens, billed as such:
        its seconds are metered, never billed on top of them."""
        return self.audio_seconds > 0 and self.prompt_tokens == 0 and self.completion_tokens == 0

    def budget_tokens(self) -> tuple[int, int]:
        """The (input, output) tokens the budgets count: those reported; for a usage billed in
        seconds, their token-equivalent as output, so that audio uses the token budgets as the
        reservation said it would."""
        if self.billed_in_seconds:
            return 0, self.audio_seconds * AUDIO_TOKENS_PER_SECOND
        return self.prompt_tokens, self.completion_tokens


def metered_audio(usage: Usage | None, seconds: int) -> Usage | None:
    """`usage` with the `seconds` of audio the gateway read, when the backend reported none: a
    translation reports no usage at all, a stream only tokens. The backend's own count wins."""
    if seconds <= 0 or (usage is not None and usage.audio_seconds > 0):
        return usage
    if usage is None:
        return Usage(0, 0, audio_seconds=seconds)
    return msgspec.structs.replace(usage, audio_seconds=seconds)


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
    span = usage_span(body)
    if span is None:
        return None
    try:
        return _decode(body[span[0] : span[1]])
    except msgspec.DecodeError:
        return None


def usage_span(body: bytes) -> tuple[int, int] | None:
    """Where the `usage` object of a JSON answer starts and ends (its braces included), found from
    the end without decoding the answer; None when it has none."""
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
                return position, index + 1
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
