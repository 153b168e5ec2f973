"""Send one request to a backend of its model, retrying on another while that is still safe.

A retry is safe only until the client has received anything; `Forwarder.open` returns as soon as a
backend has answered with response headers that the gateway will relay, so every retry decision is
taken before a single byte goes to the client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import httpx

from gateway.admission.slot import Slot
from gateway.config import HealthConfig, TimeoutConfig
from gateway.errors import (
    BackendUnavailable,
    GatewayError,
    UpstreamAnswerTooLarge,
    UpstreamFailure,
    UpstreamTimeout,
)
from gateway.routing.backend import Backend, monotonic
from gateway.routing.pool import ModelPool
from gateway.telemetry.genai import decoded, response_attributes
from gateway.telemetry.request_trace import (
    NO_SPAN,
    NO_TRACE,
    AnySpan,
    AnyTrace,
    error_type,
    server_attributes,
)
from gateway.usage import Usage, usage_from_body

__all__ = ["Forwarder", "UpstreamReply"]

logger = logging.getLogger("gateway.upstream")

_RETRY_AFTER_SECONDS = "5"
_QUEUE_FULL_MARKER = b"currently busy"
# What a backend answers for a feature its model lacks: deliberate, the same on every backend of the
# model, so neither retried nor a failure of the backend (the pipeline maps it to a 400).
_NOT_IMPLEMENTED = 501


@dataclass(slots=True)
class UpstreamReply:
    """An open upstream response, and from the moment `Forwarder.open` returns it, the owner of the
    upstream call's lifetime: `aclose()` releases the connection and the backend's `in_flight`, puts
    what the answer said on the CLIENT span and ends it, exactly once whatever the path (answered,
    streamed, failed, abandoned). The pipeline never ends that span itself.

    Modelled on httpx's `BoundAsyncStream`: closing the stream is closing the call, so nobody can do
    one and forget the other.
    """

    backend: Backend
    response: httpx.Response
    attempts: int
    opened_at: float
    """`time.perf_counter()` when the backend's response headers arrived."""
    max_bytes: int
    """The largest body read from this answer (`upstream.max_response_bytes`)."""
    span: AnySpan = NO_SPAN
    """The call's CLIENT span. A no-op on an attempt's reply until `Forwarder.open` hands the span
    to the reply it returns: the replies of discarded attempts close without ending it."""
    started: float = 0.0
    """`time.perf_counter()` when the call began: the origin of the time to first chunk."""
    record_content: bool = False
    """Whether the span may carry the answer's text (`tracing.record_content`)."""
    usage: Usage | None = None
    """The usage a non-streamed answer reported (`read_all` sets it; None for an error)."""
    error_body: bytes | None = None
    """The body of a 5xx answer, read while deciding whether to retry."""
    _closed: bool = False

    async def aclose(
        self,
        *,
        error: str | None = None,
        answer: Any = None,
        finish_reasons: list[str] | None = None,
        usage: Usage | None = None,
        first_chunk_at: float | None = None,
    ) -> None:
        """End the call: the connection, the backend's count, then the span with what the answer
        said (`answer`: the decoded body or a stream's usage chunk) and `error` (its `error.type`).
        Only the first call does anything."""
        if self._closed:
            return
        self._closed = True
        self.backend.release()
        try:
            await self.response.aclose()
        finally:
            span = self.span
            if span.is_recording():
                attributes = response_attributes(
                    answer, finish_reasons, usage, record_content=self.record_content
                )
                if first_chunk_at is not None:
                    attributes["gen_ai.response.time_to_first_chunk"] = first_chunk_at - self.started
                if error is not None:
                    attributes["error.type"] = error
                span.set_attributes(attributes)
            span.end()

    async def read_all(
        self, timeouts: TimeoutConfig, read_usage: Callable[[bytes], Usage | None] = usage_from_body
    ) -> bytes:
        """The whole body of a non-streamed answer, within the model's timeouts; the reply is closed
        when this returns or raises (`usage` then holds what a successful answer reported, as the
        operation's `read_usage` reads it)."""
        body = self.error_body
        if body is None:
            try:
                async with asyncio.timeout(timeouts.total):
                    body = await self.read_body()
            except (TimeoutError, httpx.TimeoutException):
                await self._fail(UpstreamTimeout("The backend did not finish its answer in time."))
            except httpx.HTTPError:
                await self._fail(
                    UpstreamFailure("The backend closed the connection before finishing its answer.")
                )
            except BaseException as exc:  # too large, or cancelled: the call still ends here
                await self.aclose(error=error_type(exc) if isinstance(exc, GatewayError) else None)
                raise
        if self.response.status_code < 400:
            self.usage = read_usage(body)
        # Decoding the answer for its span costs more than the rest: only for a recorded span.
        answer = decoded(body) if self.span.is_recording() else None
        await self.aclose(answer=answer, usage=self.usage, first_chunk_at=self.opened_at)
        return body

    async def _fail(self, failure: GatewayError) -> NoReturn:
        await self.aclose(error=error_type(failure))
        raise failure from None

    async def read_body(self) -> bytes:
        """The body, or UpstreamAnswerTooLarge as soon as it is known to exceed `max_bytes`: the
        caller's `aclose()` then closes the connection with the rest of the body unread."""
        limit = self.max_bytes
        declared = self.response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise UpstreamAnswerTooLarge(limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.response.aiter_bytes():  # decoded: a compressed body is bounded too
            size += len(chunk)
            if size > limit:
                raise UpstreamAnswerTooLarge(limit)
            chunks.append(chunk)
        return b"".join(chunks)


def _answering(reply: UpstreamReply, span: AnySpan, started: float, record_content: bool) -> UpstreamReply:
    """`reply` becomes the call's answer: it takes over the CLIENT span, which learns where the
    request went and how many tries it took."""
    reply.span, reply.started, reply.record_content = span, started, record_content
    if not span.is_recording():
        return reply
    attributes: dict[str, Any] = server_attributes(reply.backend.url)
    attributes["gateway.backend"] = reply.backend.url
    attributes["gateway.upstream.attempts"] = reply.attempts
    if reply.response.status_code >= 400:
        attributes["error.type"] = str(reply.response.status_code)
    span.set_attributes(attributes)
    return reply


def _unanswered(span: AnySpan, error: str, attempts: int) -> None:
    """End the CLIENT span of a call that no reply answers (no reply exists to own it)."""
    span.set_attributes({"error.type": error, "gateway.upstream.attempts": attempts})
    span.end()


class Forwarder:
    """Chooses backends, sends, and keeps their passive health up to date."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        transport: httpx.AsyncBaseTransport,
        health: HealthConfig,
        *,
        max_response_bytes: int,
    ) -> None:
        self._client = client
        self._max_response_bytes = max_response_bytes
        # Requests go to the transport directly: httpx's client layer (request building, auth,
        # redirects, cookies) cost a third of the gateway's CPU per request and does nothing here.
        self._transport = transport
        self._health = health
        self._urls: dict[tuple[str, str], httpx.URL] = {}

    async def open(
        self,
        pool: ModelPool,
        path: str,
        body: bytes,
        *,
        affinity: int | None,
        headers: dict[str, str],
        trace: AnyTrace = NO_TRACE,
        span: tuple[str, dict[str, Any]] = ("", {}),
        record_content: bool = False,
        method: str = "POST",
        slot: Slot | None = None,
        priority_body: bytes | None = None,
    ) -> UpstreamReply:
        """Send to the best backend; on connection errors, 5xx or queue-full, try the next one.

        `trace` gets a `route` span for the first choice of backend and the CLIENT span (`span`: its
        name and request attributes) covering every attempt; its `traceparent` goes upstream.

        `slot`: the backend the admission step granted this request; the first attempt goes there
        and takes the slot over (retries choose as usual). `priority_body`: the body for backends
        that run vLLM's priority scheduling (with the class's `priority` field), when it differs.

        Returns the first answer below 500 or 501 (or the last 5xx when every attempt failed): the caller
        must `aclose()` it, which ends the call (the CLIENT span included). Raises
        BackendUnavailable when no backend could be reached, UpstreamTimeout when one accepted the
        request but did not answer in time (not retried: it may still be generating); the call is
        then over, its span ended here, since no reply exists to own it.
        """
        started = time.perf_counter()
        deadlines = pool.upstream_deadlines
        tried: list[Backend] = []
        last_failure: UpstreamReply | None = None
        with trace.step("route") as route:
            backend = slot.backend if slot is not None else pool.choose(affinity, tried)
            route.set_attribute("gateway.backend", backend.url if backend is not None else "")
        client_span = trace.upstream(span[0], span[1], headers)
        try:
            for attempt in range(pool.config.routing.max_attempts):
                if attempt:
                    backend = pool.choose(affinity, tried)
                if backend is None:
                    break
                tried.append(backend)
                if slot is not None:
                    # In the same step as `_attempt` counts it in flight: no gap another request could see.
                    slot.hand_over()
                    slot = None
                sent = priority_body if priority_body is not None and backend.prioritizes else body
                reply = await self._attempt(
                    backend, path, sent, headers, deadlines, pool.name, len(tried), method
                )
                if reply is None:
                    continue
                if reply.response.status_code < 500 or reply.response.status_code == _NOT_IMPLEMENTED:
                    backend.record_success()
                    if last_failure is not None:
                        await last_failure.aclose()
                    return _answering(reply, client_span, started, record_content)
                failed, last_failure = last_failure, reply
                if failed is not None:
                    await failed.aclose()
                await self._note_server_error(reply)
        except BaseException as exc:
            # Cancelled (the client went away) or failed: nothing may keep a connection or a count.
            if slot is not None:
                slot.release()
            if last_failure is not None:
                await last_failure.aclose()
            _unanswered(client_span, error_type(exc), len(tried))
            raise
        if last_failure is not None:
            return _answering(last_failure, client_span, started, record_content)
        _unanswered(client_span, "backend_unavailable", len(tried))
        raise BackendUnavailable(
            f"No backend serving `{pool.name}` is available right now. Please retry later.",
            headers={"retry-after": _RETRY_AFTER_SECONDS},
        )

    async def _attempt(
        self,
        backend: Backend,
        path: str,
        body: bytes,
        headers: dict[str, str],
        deadlines: dict[str, float],
        model: str,
        attempt: int,
        method: str = "POST",
    ) -> UpstreamReply | None:
        """One try on one backend: its reply, or None when the next backend should be tried."""
        if backend.auth_header is not None:
            headers = {**headers, "authorization": backend.auth_header}
        url = self._urls.get((backend.url, path))
        if url is None:
            # Parsed once per backend and operation: httpx parses a string URL on every request.
            url = self._urls[backend.url, path] = httpx.URL(backend.url + path)
        request = httpx.Request(method, url, content=body, headers=headers, extensions={"timeout": deadlines})
        backend.in_flight += 1
        try:
            response = await self._transport.handle_async_request(request)
        except httpx.ReadTimeout:
            backend.release()
            self._record_failure(backend)
            raise UpstreamTimeout(
                f"The backend serving `{model}` did not answer within {deadlines['read']:g} s."
            ) from None
        except httpx.ConnectError:
            backend.record_unreachable()  # before the slot is freed: no waiting request is sent there
            backend.release()
            logger.warning("backend %s unreachable, trying another", backend.url)
            return None
        except httpx.HTTPError:
            backend.release()
            self._record_failure(backend)
            return None
        except BaseException:
            backend.release()
            raise
        return UpstreamReply(backend, response, attempt, time.perf_counter(), self._max_response_bytes)

    async def count_prompt_tokens(
        self, backend: Backend, model: str, prompt: dict[str, Any] | None
    ) -> int | None:
        """The exact prompt size, from the backend's own tokenizer (`POST /tokenize`), or None.

        `prompt`: the fields that make the prompt (the operation's `tokenize_prompt`); None when the
        operation has none /tokenize can count. Used off the request path, when a request ended
        before the backend reported its usage.
        """
        if prompt is None:
            return None
        body: dict[str, Any] = {"model": model, **prompt}
        headers = {"authorization": backend.auth_header} if backend.auth_header else None
        try:
            response = await self._client.post(
                f"{backend.url}/tokenize", json=body, headers=headers, timeout=10.0
            )
            count = response.json().get("count") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        return count if isinstance(count, int) and count >= 0 else None

    async def _note_server_error(self, reply: UpstreamReply) -> None:
        # Read the (small) error body now so the connection can be reused and the body relayed.
        try:
            reply.error_body = await reply.read_body()
        except (httpx.HTTPError, UpstreamAnswerTooLarge):
            # An error body this large is no vLLM's: relayed empty, its connection closed with the reply.
            reply.error_body = b""
        if reply.response.status_code == 503 and _QUEUE_FULL_MARKER in reply.error_body:
            reply.backend.record_busy(monotonic())  # overloaded, not broken: no ejection
        else:
            self._record_failure(reply.backend)

    def _record_failure(self, backend: Backend) -> None:
        backend.record_failure(
            monotonic(), eject_after=self._health.eject_after, eject_seconds=self._health.eject_seconds
        )
