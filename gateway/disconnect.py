"""Stop waiting for a backend when the client has gone away.

Litestar watches for disconnects only while it streams a response. Before that (while a backend is
queueing, prefilling or generating a whole non-streamed answer) nobody would notice, and the GPU
would keep working for a client that left. `DisconnectGuard` listens for `http.disconnect` and
cancels the handler's task, whose clean-up closes the upstream connection: vLLM then aborts the
request and frees its KV cache.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.types import Receive

__all__ = ["DisconnectGuard"]


class DisconnectGuard:
    """Cancels the current task if the client disconnects before `close()` is called."""

    __slots__ = ("_watcher", "fired")

    def __init__(self, receive: Receive) -> None:
        self.fired = False
        task = asyncio.current_task()
        assert task is not None, "DisconnectGuard needs a running task"
        self._watcher = asyncio.get_running_loop().create_task(self._watch(receive, task))

    async def _watch(self, receive: Receive, task: asyncio.Task[Any]) -> None:
        # The body has been read already, so the next message the server delivers is the disconnect.
        while (await receive())["type"] != "http.disconnect":
            pass
        self.fired = True
        task.cancel()

    def close(self) -> None:
        self._watcher.cancel()

    def absorb(self) -> bool:
        """After a CancelledError: True (and the cancellation undone) when it was this guard's doing."""
        if not self.fired:
            return False
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        return True
