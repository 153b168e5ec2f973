"""The little ASGI the simulator needs: typed callables, body reading, responses, disconnects.

No framework: a request costs a dictionary lookup and a few ``send`` calls, which is what lets one
core answer thousands of requests per second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8")]


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` when the client went away while sending it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_response(
    send: Send, status: int, body: bytes, content_type: bytes = b"application/json"
) -> None:
    """A complete response with a ``content-length``."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def header_map(scope: Scope) -> dict[str, str]:
    """Request headers with lowercased names; repeated headers are joined with ``", "``."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


class DisconnectWatch:
    """Notices when the client goes away and wakes whatever the request is waiting on.

    The server answers ``receive()`` with ``http.disconnect`` once the client is gone (or the response
    is complete), so one background task per waiting request suffices. It is started lazily: a
    request that never waits (zero latency, free slot) never pays for it.
    """

    __slots__ = ("_pending", "_receive", "_task", "disconnected")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task: asyncio.Task[None] | None = None
        self._pending: asyncio.Future[bool] | None = None
        self.disconnected = False

    def start(self) -> None:
        """Begin listening (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                pending = self._pending
                if pending is not None and not pending.done():
                    pending.set_result(False)
                return

    async def wait(self, future: asyncio.Future[bool]) -> bool:
        """Wait for ``future``; ``False`` if the client disconnected first (the future is then resolved)."""
        if self.disconnected:
            if not future.done():
                future.set_result(False)
            return False
        self.start()
        self._pending = future
        try:
            return await future
        finally:
            self._pending = None

    async def sleep(self, seconds: float) -> bool:
        """Sleep; ``False`` as soon as the client disconnects. Zero seconds never suspends."""
        if seconds <= 0:
            return not self.disconnected
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        timer = loop.call_later(seconds, _resolve, future)
        try:
            return await self.wait(future)
        finally:
            timer.cancel()

    def close(self) -> None:
        """Stop listening; called when the request is over."""
        if self._task is not None and not self._task.done():
            self._task.cancel()


def _resolve(future: asyncio.Future[bool]) -> None:
    if not future.done():
        future.set_result(True)
