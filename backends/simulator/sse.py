"""Server-sent events: the chunk bytes vLLM writes, and a writer that sends them.

Chunks are assembled from precomputed byte prefixes plus the JSON-encoded token, not by encoding a
dictionary per token: that is what keeps streaming at tens of thousands of tokens per second. The
field order and the fields present are those vLLM 0.32 writes (chat chunks leave unset fields out;
completion chunks write every choice field but leave ``usage`` out unless it is continuous).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from backends.simulator.asgi import SSE_HEADERS, Send
from backends.simulator.generation import TokenLogprob
from backends.simulator.tokenizer import Tokenizer

DONE_EVENT = b"data: [DONE]\n\n"

_encode = msgspec.json.encode


def stamp_text() -> str:
    """A token's text under ``--stamp-events``: `` @`` and ``time.monotonic_ns()`` now.

    CLOCK_MONOTONIC is one clock for every process of a machine, so a client on the same machine
    subtracts the stamp from its own ``time.monotonic_ns()`` to get the event's delay. Callers take
    the stamp right before the event is sent, with an ``EventWriter`` that does not batch.
    """
    return f" @{time.monotonic_ns()}"


def json_string(text: str) -> bytes:
    """A JSON string literal (quotes included)."""
    return _encode(text)


CHAT_CHUNK_USAGE_DETAILS = b',"completion_tokens_details":null'
"""What a chat chunk's continuous ``usage`` adds after the counts (completions' and the final usage
chunk's add nothing)."""


def usage_json(prompt_tokens: int, completion_tokens: int, details: bytes = b"") -> bytes:
    """vLLM's ``UsageInfo`` in field order, then ``details`` (the ``*_details`` fields left in)."""
    total = prompt_tokens + completion_tokens
    return b'{"prompt_tokens":%d,"total_tokens":%d,"completion_tokens":%d%s}' % (
        prompt_tokens,
        total,
        completion_tokens,
        details,
    )


def system_fingerprint_json(fingerprint: str) -> bytes:
    """``,"system_fingerprint":"..."``: what vLLM appends to the last chunk before ``[DONE]``."""
    return b',"system_fingerprint":' + json_string(fingerprint)


def chat_logprobs_json(entries: list[TokenLogprob]) -> bytes:
    """``choice.logprobs`` of a chat chunk or response: ``{"content": [...]}``."""
    return _encode({"content": [chat_logprob_entry(entry) for entry in entries]})


def chat_logprob_entry(entry: TokenLogprob) -> dict[str, Any]:
    """One ``ChatCompletionLogProbsContent``."""
    return {
        "token": entry.token,
        "logprob": entry.logprob,
        "bytes": list(entry.token.encode("utf-8")),
        "top_logprobs": [
            {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}
            for token, logprob in entry.top
        ],
    }


def completion_logprobs(
    entries: list[TokenLogprob], first_offset: int, prompt: list[TokenLogprob] | None = None
) -> dict[str, Any]:
    """A ``CompletionLogProbs`` object; ``text_offset`` counts characters from ``first_offset``.

    ``prompt`` (an echoed prompt's tokens) comes first, its first token without a logprob, as vLLM
    has none for the token nothing precedes.
    """
    offsets = []
    token_logprobs: list[float | None] = []
    tokens = []
    top_logprobs: list[dict[str, float] | None] = []
    offset = first_offset
    for position, entry in enumerate((*(prompt or ()), *entries)):
        offsets.append(offset)
        offset += len(entry.token)
        tokens.append(entry.token)
        unknown = position == 0 and bool(prompt)
        token_logprobs.append(None if unknown else entry.logprob)
        top_logprobs.append(None if unknown else dict(entry.top))
    return {
        "text_offset": offsets,
        "token_logprobs": token_logprobs,
        "tokens": tokens,
        "top_logprobs": top_logprobs,
    }


def prompt_logprobs_json(tokenizer: Tokenizer, entries: list[TokenLogprob]) -> list[dict[str, Any] | None]:
    """A choice's ``prompt_logprobs``: per prompt token (``null`` for the first), its own and its best
    alternatives' logprobs keyed by token id, each with its rank and text."""
    result: list[dict[str, Any] | None] = [None]
    for entry in entries[1:]:
        ranked = entry.top or [(entry.token, entry.logprob)]
        result.append(
            {
                str(tokenizer.piece_id(token)): {"logprob": logprob, "rank": rank, "decoded_token": token}
                for rank, (token, logprob) in enumerate(ranked, start=1)
            }
        )
    return result


class ChatChunks:
    """Builds ``chat.completion.chunk`` events for one response."""

    def __init__(self, response_id: str, created: int, model: str, fingerprint: str) -> None:
        self._head = (
            b'data: {"id":"%s","object":"chat.completion.chunk","created":%d,"model":%s,"choices":'
            % (
                response_id.encode(),
                created,
                json_string(model),
            )
        )
        self._fingerprint = system_fingerprint_json(fingerprint)

    def role(self, index: int, usage: bytes | None) -> bytes:
        """The first chunk of a choice: ``delta`` with the assistant role and empty content."""
        usage_part = b',"usage":' + usage if usage is not None else b""
        return (
            self._head
            + b'[{"index":%d,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]'
            % index
            + usage_part
            + b',"prompt_token_ids":null,"prompt_text":null}\n\n'
        )

    def delta(
        self,
        index: int,
        delta: bytes,
        *,
        logprobs: bytes | None,
        finish_reason: str | None,
        stop_reason: str | None,
        usage: bytes | None,
        fingerprint: bool = False,
    ) -> bytes:
        """A token chunk; the last one of a choice carries ``finish_reason`` and ``stop_reason``, and
        ``system_fingerprint`` when no usage chunk follows."""
        logprobs_part = logprobs if logprobs is not None else b"null"
        if finish_reason is None:
            ending = b'"finish_reason":null,"token_ids":null}]'
        else:
            stop = json_string(stop_reason) if stop_reason is not None else b"null"
            ending = b'"finish_reason":"%s","stop_reason":%s,"token_ids":null}]' % (
                finish_reason.encode(),
                stop,
            )
        usage_part = b',"usage":' + usage if usage is not None else b""
        return (
            self._head
            + b'[{"index":%d,"delta":%s,"logprobs":%s,' % (index, delta, logprobs_part)
            + ending
            + usage_part
            + (self._fingerprint if fingerprint else b"")
            + b"}\n\n"
        )

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        """The final chunk of ``include_usage``: no choices, usage without details, the fingerprint."""
        return (
            self._head
            + b"[]"
            + b',"usage":'
            + usage_json(prompt_tokens, completion_tokens)
            + self._fingerprint
            + b"}\n\n"
        )


def content_delta(text: str) -> bytes:
    """``{"content": ...}``."""
    return b'{"content":' + json_string(text) + b"}"


def tool_call_delta(index: int, text: str, *, call_id: str | None = None, name: str | None = None) -> bytes:
    """A ``DeltaToolCall``: id, type and name on the first chunk, argument pieces after."""
    if call_id is not None and name is not None:
        call = b'{"id":"%s","type":"function","index":%d,"function":{"name":%s,"arguments":%s}}' % (
            call_id.encode(),
            index,
            json_string(name),
            json_string(text),
        )
    else:
        call = b'{"index":%d,"function":{"arguments":%s}}' % (index, json_string(text))
    return b'{"tool_calls":[' + call + b"]}"


class CompletionChunks:
    """Builds ``text_completion`` stream events for one response."""

    def __init__(self, response_id: str, created: int, model: str, fingerprint: str) -> None:
        self._head = b'data: {"id":"%s","object":"text_completion","created":%d,"model":%s,"choices":' % (
            response_id.encode(),
            created,
            json_string(model),
        )
        self._fingerprint = system_fingerprint_json(fingerprint)

    def text(
        self,
        index: int,
        text: str,
        *,
        logprobs: bytes | None,
        finish_reason: str | None,
        stop_reason: str | None,
        usage: bytes | None,
        prompt_token_ids: bytes = b"null",
        fingerprint: bool = False,
    ) -> bytes:
        """One chunk: every choice field, ``null`` when unset; ``usage`` only when continuous, and
        ``system_fingerprint`` on a choice's last chunk when no usage chunk follows."""
        finish = b'"%s"' % finish_reason.encode() if finish_reason is not None else b"null"
        stop = json_string(stop_reason) if stop_reason is not None else b"null"
        return (
            self._head
            + b'[{"index":%d,"text":%s,"logprobs":%s,"finish_reason":%s,"stop_reason":%s,'
            % (index, json_string(text), logprobs if logprobs is not None else b"null", finish, stop)
            + b'"prompt_token_ids":%s,"token_ids":null}]' % prompt_token_ids
            + (b',"usage":' + usage if usage is not None else b"")
            + (self._fingerprint if fingerprint else b"")
            + b"}\n\n"
        )

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        """The final ``include_usage`` chunk: usage without details, the fingerprint."""
        return (
            self._head
            + b"[]"
            + b',"usage":'
            + usage_json(prompt_tokens, completion_tokens)
            + self._fingerprint
            + b"}\n\n"
        )


class StreamBroken(Exception):
    """``x-sim-break-after`` reached: the connection must be dropped without finishing the response."""


class EventWriter:
    """Sends events, batching them when no time passes between them.

    With zero inter-token latency a whole answer is written in a few ``send`` calls instead of one per
    token; with a latency every step is flushed before sleeping, so clients see tokens as they come.
    """

    __slots__ = ("_batch", "_break_after", "_buffer", "_send", "_sent_events", "_terminator", "started")

    BATCH = 64

    def __init__(
        self, send: Send, break_after: int | None, terminator: bytes = DONE_EVENT, *, batched: bool = True
    ) -> None:
        """``terminator`` ends a complete stream: ``[DONE]`` for chat and completions, nothing for the
        Responses API, whose last event (``response.completed``) says the stream is over.

        ``batched=False`` sends every event as soon as it is added (stamped events: a stamp must be
        the time its event left, not the time it joined a batch).
        """
        self._send = send
        self._batch = self.BATCH if batched else 1
        self._buffer: list[bytes] = []
        self._break_after = break_after
        self._sent_events = 0
        self._terminator = terminator
        self.started = False

    async def start(self) -> None:
        """Send the ``200`` and the SSE headers."""
        self.started = True
        await self._send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})

    async def add(self, event: bytes) -> None:
        """Queue one event; raises ``StreamBroken`` once the break-after budget is spent."""
        if self._break_after is not None and self._sent_events >= self._break_after:
            await self.flush()
            raise StreamBroken
        self._buffer.append(event)
        self._sent_events += 1
        if len(self._buffer) >= self._batch:
            await self.flush()

    async def flush(self) -> None:
        """Send what is queued."""
        if self._buffer:
            body = b"".join(self._buffer)
            self._buffer.clear()
            await self._send({"type": "http.response.body", "body": body, "more_body": True})

    async def finish(self) -> None:
        """Send the terminator and complete the response (unless the break-after budget says drop it).

        Without a terminator every event has been sent already, so there is nothing left to drop.
        """
        if self._terminator and self._break_after is not None and self._sent_events >= self._break_after:
            await self.flush()
            raise StreamBroken
        self._buffer.append(self._terminator)
        body = b"".join(self._buffer)
        self._buffer.clear()
        await self._send({"type": "http.response.body", "body": body, "more_body": False})
