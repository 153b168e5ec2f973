"""uvicorn's httptools protocol with the bounds it lacks: header size, and time to send a request.

uvicorn's httptools protocol (the fast one, which `gateway serve` runs) keeps a header in memory
however long it grows, waits for the rest of a request forever, and never closes a connection that
sends nothing. Its h11 protocol has `h11_max_incomplete_event_size`, but answers 400 rather than 431,
has no time limits either, and costs several times more CPU per request. So this subclass adds:

- `max_header_bytes`: the request line and headers of one request, counted as bytes arrive. Beyond
  it the request is refused with 431 and the connection closed: the parser never holds more than the
  limit plus one read (at most 256 KiB with uvloop).
- `header_timeout`: from the connection's opening (or a request's first byte on a kept-alive
  connection) to the end of its headers. A connection that sent nothing is closed silently; one that
  started a request gets 408.
- `body_timeout`: from the end of the headers to the end of the body; 408, then the connection is
  closed and the application sees the client leave.

Between requests uvicorn's own keep-alive timeout applies, and once a request is whole the
application's timeouts do. Refusals are OpenAI-shaped JSON, like every other error of the gateway.
"""

from __future__ import annotations

import asyncio
import http
from dataclasses import dataclass
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from gateway.errors import GatewayError, HeadersTooLarge, RequestTimeout

__all__ = ["BoundedHttpToolsProtocol", "HttpLimits"]

_HEADER_LINE_OVERHEAD = 4
"""`: ` and CRLF around each header's name and value, which the parser does not hand over."""


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int
    header_timeout: float
    body_timeout: float


def _refusal(error: GatewayError, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = error.body()
    status = error.status_code
    head = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n".encode("ascii")]
    head += [name + b": " + value + b"\r\n" for name, value in default_headers]
    head.append(
        b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body)
    )
    return b"".join(head) + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """One connection, as uvicorn serves it, within `HttpLimits`. uvicorn builds one per connection;
    give it the limits with `functools.partial(BoundedHttpToolsProtocol, limits=...)`."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HttpLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._limits = limits
        self._reading_headers = True
        """From a request's first byte (or the connection's opening) until its headers are complete."""
        self._in_request = False
        """A byte of the current request has arrived and its body is not complete yet."""
        self._arrived = 0
        """Bytes received while reading headers, counted per read before they are parsed."""
        self._parsed = 0
        """Bytes of the current request's line and headers the parser has handed over."""
        self._oversized = False
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None

    # -- the connection ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._limits.header_timeout, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # refused: what follows is not read, let alone parsed
        if self._reading_headers:
            self._arrived += len(data)
        super().data_received(data)
        if self._refused or self.transport.is_closing():
            return
        if self._oversized or (self._reading_headers and self._arrived > self._limits.max_header_bytes):
            self._refuse(
                HeadersTooLarge(
                    f"The request's headers are larger than the {self._limits.max_header_bytes} bytes this "
                    "gateway accepts."
                )
            )

    # -- parser callbacks -------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_request = True
        self._parsed = 0
        if self._deadline is None:
            self._arm(self._limits.header_timeout, self._headers_too_slow)

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + _HEADER_LINE_OVERHEAD)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused or self._oversized:
            return  # no application task for a refused request (nor for any pipelined after it)
        self._reading_headers = False
        self._arrived = 0
        self._arm(self._limits.body_timeout, self._body_too_slow)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused and not self._oversized:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused or self._oversized:
            return
        self._disarm()
        self._in_request = False
        self._reading_headers = True
        super().on_message_complete()

    def _count(self, size: int) -> None:
        self._parsed += size
        if self._parsed > self._limits.max_header_bytes:
            # Acted on once the parser returns (data_received): it cannot be stopped from here
            # without uvicorn taking the exception for a malformed request.
            self._oversized = True

    # -- deadlines and refusals -------------------------------------------------------------------

    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if not self._in_request:
            # Nothing was asked: nothing to answer (browsers open spare connections they may not use).
            self._refused = True
            self.transport.close()
            return
        self._refuse(
            RequestTimeout(
                f"The request's headers did not arrive within {self._limits.header_timeout:g} seconds."
            )
        )

    def _body_too_slow(self) -> None:
        self._deadline = None
        self._refuse(
            RequestTimeout(
                f"The request's body did not arrive within {self._limits.body_timeout:g} seconds of its headers."
            )
        )

    def _refuse(self, error: GatewayError) -> None:
        """Answer `error` and close, unless a response is already being written on this connection."""
        self._refused = True
        self._disarm()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if self._reading_headers:
            # `cycle` is the previous request's: if its response is still being written, it ends
            # first, then the connection (what arrives meanwhile is dropped, see data_received).
            if cycle is not None and not cycle.response_complete:
                cycle.keep_alive = False
                return
        elif cycle.response_started or any(queued is cycle for queued, _ in self.pipeline):
            # The application answered this request without waiting for its body, or has not
            # started it (pipelined behind another response): no answer can be written in between.
            self.transport.close()
            return
        else:
            # The application waits for this body: it sees the client leave, and whatever it sends
            # from now on is dropped rather than written after the refusal.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.write(_refusal(error, self.server_state.default_headers))
        self.transport.close()
