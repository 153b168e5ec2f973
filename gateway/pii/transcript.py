"""Mask personal data in a transcript: text the model heard, not text the caller sent.

A transcript's personal data never went through the redact step (it was in the audio), so there is no
placeholder to restore: every entity whose mode would change a request (`mask`, `pseudonymize`,
`block`) is masked as `[EMAIL]` in the answer; `detect` leaves it as heard. The answer is already paid
for when it arrives, so `block` masks rather than refusing it.

Every response format is covered: `text` of json/text answers, `text` and `segments[].text` of
verbose_json, and the text deltas of a stream (`choices[].delta.content` of vLLM's
`transcription.chunk` events, or a top-level `delta`).

Streams: a detector, unlike the placeholder restorer, cannot tell from a prefix whether text could
become an entity (a phone number is several words, a name two). Each stream's text is therefore held
back in a window: once it is `WINDOW_CHARS` long it is scanned whole, and what lies before the last
`MARGIN_CHARS` is released, cut at a space outside every finding. An entity shorter than the margin
that starts in the released part ends inside the scanned window, so it is found whole and never
split. The rest goes out, scanned, with the choice's last chunk or before `[DONE]`. Buffering per word
would have been simpler but lets multi-word entities (a phone number written in pairs, a name) leak
word by word.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import msgspec

from gateway.pii.detection import Finding
from gateway.pii.offload import AsyncDetector

__all__ = ["MARGIN_CHARS", "WINDOW_CHARS", "TranscriptMasker"]

logger = logging.getLogger("gateway.pii")

WINDOW_CHARS = 256
MARGIN_CHARS = 96
"""Longer than any identifier the detector knows written out (an IBAN with its spaces is 42)."""

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.encode
_EVENT_END = b"\n\n"
_DATA = b"data: "


def _masked(text: str, findings: list[Finding], masked: Callable[[str], bool]) -> str:
    pieces: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda found: found.start):
        if not masked(finding.entity) or finding.start < position:
            continue
        pieces.append(text[position : finding.start])
        pieces.append(f"[{finding.entity}]")
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)


class TranscriptMasker:
    """Masks one request's transcript: `mask_body` for a whole answer, `__call__` for SSE events
    (the relay's asynchronous transform). One per request: a stream's held text is its state."""

    __slots__ = ("_detector", "_fail_open", "_held", "_masked", "_time_budget")

    def __init__(
        self,
        detector: AsyncDetector,
        masked: Callable[[str], bool],
        *,
        fail_open: bool,
        time_budget_seconds: float,
    ) -> None:
        self._detector = detector
        self._masked = masked
        self._fail_open = fail_open
        self._time_budget = time_budget_seconds
        self._held: dict[Any, str] = {}

    async def _find(self, texts: list[str]) -> list[list[Finding]] | None:
        """The findings, or None when detection failed (the caller then withholds or forwards)."""
        deadline = asyncio.get_running_loop().time() + self._time_budget
        try:
            return await self._detector.find(texts, deadline)
        except Exception as exc:
            # Only the exception's type: its message could quote the transcript.
            logger.warning(
                "PII detection failed on a transcript (%s); %s",
                type(exc).__name__,
                "forwarded unmasked (fail_open)" if self._fail_open else "its text withheld",
            )
            return None

    async def mask_texts(self, texts: list[str]) -> list[str]:
        if not any(texts):
            return texts
        found = await self._find(texts)
        if found is None:
            return texts if self._fail_open else ["" for _ in texts]
        return [_masked(text, findings, self._masked) for text, findings in zip(texts, found, strict=True)]

    async def mask_body(self, body: bytes) -> bytes:
        """A whole answer: JSON (`text`, verbose_json's segments) or, from other servers, plain text."""
        try:
            document = _decode(body)
        except msgspec.DecodeError:
            (text,) = await self.mask_texts([body.decode("utf-8", "replace")])
            return text.encode()
        if not isinstance(document, dict):
            return body
        slots: list[tuple[dict[str, Any], str]] = []
        if isinstance(document.get("text"), str):
            slots.append((document, "text"))
        segments = document.get("segments")
        if isinstance(segments, list):
            slots.extend(
                (segment, "text")
                for segment in segments
                if isinstance(segment, dict) and isinstance(segment.get("text"), str)
            )
        if not slots:
            return body
        texts = await self.mask_texts([holder[key] for holder, key in slots])
        for (holder, key), text in zip(slots, texts, strict=True):
            holder[key] = text
        return _encode(document)

    # Streams ------------------------------------------------------------------------------------

    async def __call__(self, events: bytes) -> bytes:
        """Complete SSE events, their text deltas masked (some held back, see the module's docstring)."""
        out: list[bytes] = []
        for event in events.split(_EVENT_END)[:-1]:
            out.append(await self._event(event) + _EVENT_END)
        return b"".join(out)

    async def _event(self, event: bytes) -> bytes:
        start = event.find(_DATA)
        if start < 0:
            return event
        head, data = event[: start + len(_DATA)], event[start + len(_DATA) :]
        if data.startswith(b"[DONE]"):
            tail = await self._flush_all()
            return (tail + _EVENT_END if tail else b"") + event
        try:
            document = _decode(data)
        except msgspec.DecodeError:
            return event
        if not isinstance(document, dict):
            return event
        choices = document.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict):
                    await self._choice(choice)
        elif isinstance(document.get("delta"), str):  # OpenAI's `transcript.text.delta` events
            document["delta"] = await self._feed("delta", document["delta"], final=False)
        elif isinstance(document.get("text"), str):  # ... and its `transcript.text.done`
            document["text"] = (await self.mask_texts([document["text"]]))[0]
        return head + _encode(document)

    async def _choice(self, choice: dict[str, Any]) -> None:
        index = choice.get("index", 0)
        final = choice.get("finish_reason") is not None
        delta = choice.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            delta["content"] = await self._feed(index, delta["content"], final=final)
        elif isinstance(choice.get("text"), str):
            choice["text"] = await self._feed(index, choice["text"], final=final)
        elif final and self._held.get(index):
            choice.setdefault("delta", {})["content"] = await self._feed(index, "", final=True)

    async def _feed(self, channel: Any, delta: str, *, final: bool) -> str:
        text = self._held.get(channel, "") + delta
        if final:
            self._held.pop(channel, None)
            return (await self.mask_texts([text]))[0]
        if len(text) < WINDOW_CHARS:
            self._held[channel] = text
            return ""
        found = await self._find([text])
        if found is None:
            self._held[channel] = ""
            return text if self._fail_open else ""
        cut = _cut(text, found[0])
        self._held[channel] = text[cut:]
        return _masked(text[:cut], [f for f in found[0] if f.end <= cut], self._masked)

    async def _flush_all(self) -> bytes:
        """Before [DONE]: text a choice still held (a stream without a finish reason), as one chunk."""
        held = {channel: text for channel, text in self._held.items() if text}
        self._held.clear()
        if not held:
            return b""
        texts = await self.mask_texts(list(held.values()))
        choices = [
            {"index": channel if isinstance(channel, int) else 0, "delta": {"content": text}}
            for channel, text in zip(held, texts, strict=True)
        ]
        return _DATA + _encode({"choices": choices})


def _cut(text: str, findings: list[Finding]) -> int:
    """Where to release `text` up to: a space at least MARGIN_CHARS from its end, outside every
    finding; 0 (release nothing yet) when there is none."""
    cut = text.rfind(" ", 0, len(text) - MARGIN_CHARS + 1)
    while cut > 0:
        inside = next((f for f in findings if f.start < cut < f.end), None)
        if inside is None:
            return cut
        cut = text.rfind(" ", 0, inside.start + 1)
    return 0
