"""Relay a backend's SSE stream to the client event by event.

Each upstream read is forwarded as soon as it holds complete events; only an incomplete trailing
event waits for the rest of its bytes. The final usage chunk (which the gateway always asks for)
is recorded and dropped again unless the client asked for it.

The wait for each read is bounded (the model's `idle` timeout, and its `total` for the whole
stream) by one timer per stream that is moved lazily: it fires at the earliest moment the current
wait could be over and, if a read came meanwhile, is set again for the wait then under way. An
`asyncio.timeout` around every read did the same at a cost of 7-8 µs an event (a timer set and
cancelled each time), a fifth of what relaying an event costs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import msgspec

from gateway.error_shapes import anthropic_error_type, stream_error_event
from gateway.operations.base import ErrorFormat, StreamProtocol
from gateway.telemetry.request_trace import AnySpan
from gateway.upstream.forward import UpstreamReply
from gateway.usage import Usage, usage_from_dict

__all__ = ["StreamRelay"]

logger = logging.getLogger("gateway.upstream")

_EVENT_END = b"\n\n"
_DONE = b"data: [DONE]"
# The Responses API ends its streams with one of these events instead of [DONE]; the event carries
# the whole response, usage included.
_RESPONSE_TERMINALS = (
    b"event: response.completed\n",
    b"event: response.incomplete\n",
    b"event: response.failed\n",
)
_RESPONSE_END = re.compile(rb"event: response\.(?:completed|incomplete|failed)\n")
# Anthropic Messages events: usage is in message_start (input) and message_delta (output), and
# message_stop or error ends the stream.
_MESSAGE_MARKS = re.compile(rb"event: (?:message_start|message_delta|message_stop|error)\n")
_MESSAGE_START = b"event: message_start\n"
_MESSAGE_DELTA = b"event: message_delta\n"
_MESSAGE_STOP = b"event: message_stop\n"
_MESSAGE_ERROR = b"event: error\n"
_ANTHROPIC_ERROR_TYPES = frozenset(map(anthropic_error_type, (400, 401, 403, 404, 413, 429, 500, 503)))
# vLLM serializes compactly, so the usage-only chunk always contains this exact byte string.
_EMPTY_CHOICES = b'"choices":[]'
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
_FINISH_REASON = re.compile(rb'"finish_reason":"([a-z_]+)"')


class StreamRelay:
    """An async iterator of SSE bytes for the client, reading from one open upstream reply."""

    __slots__ = (
        "_annotate_usage",
        "_closed",
        "_collect_finish",
        "_deadline",
        "_error_format",
        "_expired",
        "_idle",
        "_loop",
        "_marks",
        "_mask",
        "_message_usage",
        "_pending",
        "_raw",
        "_read_usage",
        "_reader",
        "_reply",
        "_response_events",
        "_saw_done",
        "_strip_usage",
        "_timer",
        "_transform",
        "_transform_span",
        "_wait_started",
        "_waiter",
        "_waiter_cancelling",
        "ended_upstream",
        "events",
        "finish_reasons",
        "first_event_at",
        "last_chunk",
        "usage",
    )

    def __init__(
        self,
        reply: UpstreamReply,
        *,
        strip_usage: bool,
        idle: float,
        total: float,
        transform: Callable[[bytes], bytes] | None = None,
        transform_span: AnySpan | None = None,
        collect_finish_reasons: bool = False,
        protocol: StreamProtocol = StreamProtocol.CHUNKS,
        read_usage: Callable[[Any], Usage | None] = usage_from_dict,
        mask: Callable[[bytes], Awaitable[bytes]] | None = None,
        annotate_usage: Callable[[Usage, bytes], bytes] | None = None,
    ) -> None:
        # Closing the relay closes the reply, which ends the upstream call: the relay is the one
        # thing that knows when a stream is over, whether the backend or the client ended it.
        self._reply = reply
        # Which ending and usage to look for: each protocol's markers cannot occur in the other's
        # events, so only the stream's own are searched for, event after event.
        self._response_events = protocol is StreamProtocol.RESPONSE_EVENTS
        message_events = protocol is StreamProtocol.MESSAGE_EVENTS
        self._marks = _RESPONSE_END if self._response_events else _MESSAGE_MARKS if message_events else None
        # A stream's own error event must be one of its protocol's events: Anthropic's `event: error`
        # in a Messages stream, an OpenAI error chunk and [DONE] in the others.
        self._error_format = ErrorFormat.ANTHROPIC if message_events else ErrorFormat.OPENAI
        self._message_usage: dict[str, Any] = {}
        self._read_usage = read_usage
        # Rewrites complete events before they leave (placeholders restored to the caller's values),
        # inside a span of its own that lasts as long as the stream.
        self._transform = transform
        self._transform_span = transform_span
        # Masks text the caller never sent (a transcript), after the placeholders are restored:
        # asynchronous, since detection may run in another process.
        self._mask = mask
        # Adds fields to the usage chunk the client asked for (quotas.usage_fields_in_answer).
        self._annotate_usage = annotate_usage
        self._raw: AsyncIterator[bytes] = reply.response.aiter_raw()
        self._strip_usage = strip_usage
        self._idle = idle
        self._loop = asyncio.get_running_loop()
        self._deadline = self._loop.time() + total
        # The idle watchdog: the task reading the relay, the same while it waits for a read (None
        # between reads), since when, and the one timer that checks on it.
        self._reader: asyncio.Task[Any] | None = None
        self._waiter: asyncio.Task[Any] | None = None
        self._waiter_cancelling = 0
        self._wait_started = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._expired = False
        self._pending = bytearray()
        self._saw_done = False
        self._closed = False
        self.usage: Usage | None = None
        # Data events relayed: what was generated when a stream ends before its usage chunk.
        self.events = 0
        # The backend's side ended the stream (completed, failed or timed out); when it is still
        # False once the relay is closed, the client left first.
        self.ended_upstream = False
        # For the trace: when the first event left, and the choices' finish reasons (when asked).
        self.first_event_at: float | None = None
        self._collect_finish = collect_finish_reasons
        self.finish_reasons: list[str] = []
        self.last_chunk: dict[str, Any] | None = None
        """The usage chunk (it carries the response's id and model)."""

    def __aiter__(self) -> StreamRelay:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        while True:
            try:
                chunk = await self._read()
            except StopAsyncIteration:
                return await self._finish_upstream_ended()
            except (TimeoutError, httpx.TimeoutException):
                return await self._finish_with_error(
                    "The backend stopped sending events in time.", "upstream_timeout"
                )
            except httpx.HTTPError:
                return await self._finish_with_error(
                    "The backend closed the stream unexpectedly.", "upstream_error"
                )
            data: bytes | bytearray
            if self._pending:
                # The held tail has no event end: look only in the new bytes (and the one before
                # them) and grow the tail in place, so that a long event costs linear time.
                start = len(self._pending) - 1
                self._pending += chunk
                data = self._pending
                cut = data.rfind(_EVENT_END, start)
            else:
                data = chunk
                cut = data.rfind(_EVENT_END)
            if cut < 0:
                if len(data) > self._reply.max_bytes:
                    # Far beyond any vLLM event: holding more would let a backend fill the worker.
                    return await self._finish_with_error(
                        f"The backend sent an event larger than the {self._reply.max_bytes} bytes "
                        "the gateway accepts.",
                        "upstream_response_too_large",
                    )
                if data is chunk:
                    self._pending = bytearray(chunk)
                continue
            cut += 2
            complete = bytes(data[:cut])
            self._pending = bytearray(data[cut:])
            marks = self._marks
            if _DONE in complete or (
                marks.search(complete) if marks is not None else _EMPTY_CHOICES in complete
            ):
                complete = self._inspect(complete)
            if self._collect_finish:
                self.finish_reasons.extend(reason.decode() for reason in _FINISH_REASON.findall(complete))
            if self._transform is not None and complete:
                complete = self._transform(complete)
            if self._mask is not None and complete:
                complete = await self._mask(complete)
            if complete:
                self.events += complete.count(b"data: ")
                if self.first_event_at is None:
                    self.first_event_at = time.perf_counter()
                return complete

    async def _read(self) -> bytes:
        """The next upstream read; TimeoutError when it takes longer than `idle` or passes the
        stream's deadline. A cancellation from elsewhere (the client left) goes through unchanged."""
        task = self._reader
        if task is None:
            # One task reads a relay to its end (the response's); asking asyncio at every read would
            # cost more than the rest of the watchdog.
            task = self._reader = asyncio.current_task()
            assert task is not None
        self._wait_started = self._loop.time()
        self._waiter = task
        self._waiter_cancelling = task.cancelling()
        if self._timer is None:
            self._timer = self._loop.call_at(self._wait_due(), self._check_wait)
        try:
            return await anext(self._raw)
        except asyncio.CancelledError:
            # As asyncio.timeout decides: ours only if our timer cancelled and nobody else did too.
            if self._expired and task.uncancel() <= self._waiter_cancelling:
                raise TimeoutError from None
            raise
        finally:
            self._waiter = None
            self._expired = False

    def _wait_due(self) -> float:
        return min(self._wait_started + self._idle, self._deadline)

    def _check_wait(self) -> None:
        """The timer: cancel the read that is over its time, else wait for the one under way."""
        self._timer = None
        waiter = self._waiter
        if waiter is None or self._closed:
            return  # between reads: the next read sets the timer again
        due = self._wait_due()
        if self._loop.time() >= due:
            self._expired = True
            waiter.cancel()
        else:
            self._timer = self._loop.call_at(due, self._check_wait)

    def _inspect(self, complete: bytes) -> bytes:
        """Record the usage chunk (dropping it if the client did not ask) and notice [DONE]."""
        kept: list[bytes] = []
        for event in complete.split(_EVENT_END)[:-1]:
            if event.startswith(_DONE):
                self._saw_done = self.ended_upstream = True
            elif self._response_events:
                if event.startswith(_RESPONSE_TERMINALS):
                    self._saw_done = self.ended_upstream = True
                    self._record_response(event)
            elif self._marks is not None:
                event = self._message_event(event)
            elif _EMPTY_CHOICES in event and event.startswith(b"data: "):
                try:
                    chunk = _decode(event[6:])
                except msgspec.DecodeError:
                    chunk = None
                if isinstance(chunk, dict) and isinstance(chunk.get("usage"), dict):
                    self.usage = self._read_usage(chunk["usage"])
                    self.last_chunk = chunk
                    if self._strip_usage:
                        continue
                    if self._annotate_usage is not None and self.usage is not None:
                        event = self._annotate_usage(self.usage, event)
            kept.append(event + _EVENT_END)
        return b"".join(kept)

    def _record_response(self, event: bytes) -> None:
        start = event.find(b"\ndata: ")
        try:
            document = _decode(event[start + 7 :]) if start >= 0 else None
        except msgspec.DecodeError:
            return
        response = document.get("response") if isinstance(document, dict) else None
        if isinstance(response, dict) and isinstance(response.get("usage"), dict):
            self.usage = self._read_usage(response["usage"])
            self.last_chunk = response

    def _message_event(self, event: bytes) -> bytes:
        """Anthropic Messages: note the usage halves and the end; an error event ends the stream too,
        its type made one of Anthropic's (vLLM writes `internal_error`)."""
        if event.startswith(_MESSAGE_STOP):
            self._saw_done = self.ended_upstream = True
            return event
        is_error = event.startswith(_MESSAGE_ERROR)
        if not (is_error or event.startswith((_MESSAGE_START, _MESSAGE_DELTA))):
            return event
        start = event.find(b"\ndata: ")
        try:
            document = _decode(event[start + 7 :]) if start >= 0 else None
        except msgspec.DecodeError:
            document = None
        if not isinstance(document, dict):
            return event
        if is_error:
            self._saw_done = self.ended_upstream = True
            error = document.get("error")
            if isinstance(error, dict) and error.get("type") not in _ANTHROPIC_ERROR_TYPES:
                error["type"] = anthropic_error_type(500)
                return event[: start + 7] + _encode(document)
            return event
        message = document.get("message")
        if isinstance(message, dict):  # message_start: the input tokens, the id and the model
            if isinstance(message.get("usage"), dict):
                self._message_usage = message["usage"]
            self.last_chunk = message
            return event
        usage = document.get("usage")
        if isinstance(usage, dict):
            # message_delta's usage is the final one; fields it leaves out are message_start's. Only
            # now is the usage known: a stream cut before it is charged as unfinished.
            self.usage = self._read_usage({**self._message_usage, **usage})
        delta = document.get("delta")
        if self._collect_finish and isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
            self.finish_reasons.append(delta["stop_reason"])
        return event

    def _error_event(self, message: str, code: str) -> bytes:
        return stream_error_event(self._error_format, message, code)

    async def _finish_upstream_ended(self) -> bytes:
        self.ended_upstream = True
        tail = bytes(self._pending)
        await self.aclose()
        if self._saw_done:
            return tail if tail else b""
        logger.warning("backend %s ended a stream without [DONE]", self._reply.backend.url)
        return self._error_event("The backend ended the stream before completing it.", "upstream_error")

    async def _finish_with_error(self, message: str, code: str) -> bytes:
        self.ended_upstream = True
        await self.aclose()
        return self._error_event(message, code)

    async def aclose(self) -> None:
        """Close the upstream reply, which ends the call: its connection (so vLLM aborts the request
        and frees its GPU memory), the backend's count and the CLIENT span, with what the stream said."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()  # it would keep the relay alive until it fired
            self._timer = None
        if self._transform_span is not None:
            self._transform_span.end()
        await self._reply.aclose(
            answer=self.last_chunk,
            finish_reasons=self.finish_reasons,
            usage=self.usage,
            first_chunk_at=self.first_event_at,
        )
