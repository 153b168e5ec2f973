"""The pipeline's work that outlives its request, and the one place that waits for it at shutdown.

A request is answered before it is settled: settling the reservation, writing the usage record and
concluding its observation run after the last byte, as tasks. asyncio keeps only weak references to
tasks, so something must hold them until they end; and a clean shutdown must let them finish, before
the stores they write to are closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["BackgroundWork"]


class BackgroundWork:
    """The background tasks of one worker: kept referenced until they end, drained first at shutdown."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, seconds: float = 10.0) -> None:
        """Wait (bounded) for the work still running: a clean shutdown loses no settlement."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=seconds)
