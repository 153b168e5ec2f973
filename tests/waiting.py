"""Waiting, bounded in time, for something another thread, process or task makes true.

    assert wait_for(lambda: stats(client)["running"] == 0, seconds=5)
    assert await async_wait_for(lambda: record.id in heard, seconds=2)

Both poll `predicate` every `interval` seconds until it returns something true or `seconds` have
passed, then look once more: a condition that came true during the last sleep counts. They answer
whether it held and never raise on their own, so that the caller's `assert` (with its message)
says what did not happen. `async_wait_for` sleeps with `asyncio.sleep`, leaving the event loop to
the tasks that are to make the condition true.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["async_wait_for", "wait_for"]

Predicate = Callable[[], object]


def wait_for(predicate: Predicate, seconds: float, interval: float = 0.05) -> bool:
    """True as soon as `predicate()` is true, False if it still is not after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


async def async_wait_for(predicate: Predicate, seconds: float, interval: float = 0.02) -> bool:
    """`wait_for` on an event loop: the loop runs other tasks between two looks."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())
