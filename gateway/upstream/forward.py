"""Send one request to a backend of its model, retrying on another while that is still safe.

A retry is safe only until the client has received anything; `Forwarder.open` returns as soon as a
backend has answered with response headers that the gateway will relay, so every retry decision is
taken before a single byte goes to the client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.config import HealthConfig, TimeoutConfig
from gateway.errors import BackendUnavailable, UpstreamAnswerTooLarge, UpstreamFailure, UpstreamTimeout
from gateway.routing.backend import Backend, monotonic
from gateway.routing.pool import ModelPool
from gateway.telemetry.request_trace import NO_TRACE, AnySpan, AnyTrace, error_type, server_attributes

__all__ = ["Forwarder", "UpstreamReply"]

logger = logging.getLogger("gateway.upstream")

_RETRY_AFTER_SECONDS = "5"
_QUEUE_FULL_MARKER = b"currently busy"


@dataclass(slots=True)
class UpstreamReply:
    """An open upstream response; `release()` must be called exactly once when done with it."""

    backend: Backend
    response: httpx.Response
    attempts: int
    span: AnySpan
    """The upstream call's CLIENT span; whoever reads the answer to its end ends it."""
    opened_at: float
    """`time.perf_counter()` when the backend's response headers arrived."""
    max_bytes: int
    """The largest body read from this answer (`upstream.max_response_bytes`)."""
    error_body: bytes | None = None
    """The body of a 5xx answer, read while deciding whether to retry."""
    _released: bool = False

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        self.backend.in_flight -= 1
        await self.response.aclose()

    async def read_all(self, timeouts: TimeoutConfig) -> bytes:
        """The whole body of a non-streamed answer, within the model's timeouts."""
        if self.error_body is not None:
            await self.release()
            return self.error_body
        try:
            async with asyncio.timeout(timeouts.total):
                return await self.read_body()
        except (TimeoutError, httpx.TimeoutException):
            raise UpstreamTimeout("The backend did not finish its answer in time.") from None
        except httpx.HTTPError:
            raise UpstreamFailure("The backend closed the connection before finishing its answer.") from None
        finally:
            await self.release()

    async def read_body(self) -> bytes:
        """The body, or UpstreamAnswerTooLarge as soon as it is known to exceed `max_bytes`: the
        caller's `release()` then closes the connection with the rest of the body unread."""
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


def _traced(reply: UpstreamReply) -> UpstreamReply:
    """The CLIENT span learns where the request went and how many tries it took."""
    if not reply.span.is_recording():
        return reply
    attributes: dict[str, Any] = server_attributes(reply.backend.url)
    attributes["gateway.backend"] = reply.backend.url
    attributes["gateway.upstream.attempts"] = reply.attempts
    if reply.response.status_code >= 400:
        attributes["error.type"] = str(reply.response.status_code)
    reply.span.set_attributes(attributes)
    return reply


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
    ) -> UpstreamReply:
        """Send to the best backend; on connection errors, 5xx or queue-full, try the next one.

        `trace` gets a `route` span for the first choice of backend and the CLIENT span (`span`: its
        name and request attributes) covering every attempt; its `traceparent` goes upstream.

        Returns the first answer below 500 (or the last 5xx when every attempt failed). Raises
        BackendUnavailable when no backend could be reached, UpstreamTimeout when one accepted the
        request but did not answer in time (not retried: it may still be generating).
        """
        deadlines = pool.upstream_deadlines
        tried: list[Backend] = []
        last_failure: UpstreamReply | None = None
        with trace.step("route") as route:
            backend = pool.choose(affinity, tried)
            route.set_attribute("gateway.backend", backend.url if backend is not None else "")
        client_span = trace.upstream(span[0], span[1], headers)
        try:
            for attempt in range(pool.config.routing.max_attempts):
                if attempt:
                    backend = pool.choose(affinity, tried)
                if backend is None:
                    break
                tried.append(backend)
                reply = await self._attempt(
                    backend, path, body, headers, deadlines, pool.name, len(tried), client_span
                )
                if reply is None:
                    continue
                if reply.response.status_code < 500:
                    backend.record_success()
                    if last_failure is not None:
                        await last_failure.release()
                    return _traced(reply)
                failed, last_failure = last_failure, reply
                if failed is not None:
                    await failed.release()
                await self._note_server_error(reply)
        except BaseException as exc:
            # Cancelled (the client went away) or failed: nothing may keep a connection or a count.
            if last_failure is not None:
                await last_failure.release()
            client_span.set_attribute("error.type", error_type(exc))
            client_span.set_attribute("gateway.upstream.attempts", len(tried))
            client_span.end()
            raise
        if last_failure is not None:
            return _traced(last_failure)
        client_span.set_attributes(
            {"error.type": "backend_unavailable", "gateway.upstream.attempts": len(tried)}
        )
        client_span.end()
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
        span: AnySpan,
    ) -> UpstreamReply | None:
        """One try on one backend: its reply, or None when the next backend should be tried."""
        if backend.auth_header is not None:
            headers = {**headers, "authorization": backend.auth_header}
        url = self._urls.get((backend.url, path))
        if url is None:
            # Parsed once per backend and operation: httpx parses a string URL on every request.
            url = self._urls[backend.url, path] = httpx.URL(backend.url + path)
        request = httpx.Request("POST", url, content=body, headers=headers, extensions={"timeout": deadlines})
        backend.in_flight += 1
        try:
            response = await self._transport.handle_async_request(request)
        except httpx.ReadTimeout:
            backend.in_flight -= 1
            self._record_failure(backend)
            raise UpstreamTimeout(
                f"The backend serving `{model}` did not answer within {deadlines['read']:g} s."
            ) from None
        except httpx.ConnectError:
            backend.in_flight -= 1
            backend.record_unreachable()
            logger.warning("backend %s unreachable, trying another", backend.url)
            return None
        except httpx.HTTPError:
            backend.in_flight -= 1
            self._record_failure(backend)
            return None
        except BaseException:
            backend.in_flight -= 1
            raise
        return UpstreamReply(backend, response, attempt, span, time.perf_counter(), self._max_response_bytes)

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
            # An error body this large is no vLLM's: relayed empty, its connection closed on release.
            reply.error_body = b""
        if reply.response.status_code == 503 and _QUEUE_FULL_MARKER in reply.error_body:
            reply.backend.record_busy(monotonic())  # overloaded, not broken: no ejection
        else:
            self._record_failure(reply.backend)

    def _record_failure(self, backend: Backend) -> None:
        backend.record_failure(
            monotonic(), eject_after=self._health.eject_after, eject_seconds=self._health.eject_seconds
        )
