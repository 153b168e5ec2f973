"""The waiting helpers answer as soon as the condition holds, and give up in bounded time."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tests.waiting import async_wait_for, wait_for


def test_wait_for_sees_a_change_made_by_another_thread() -> None:
    done = threading.Event()
    threading.Timer(0.1, done.set).start()
    started = time.monotonic()
    assert wait_for(done.is_set, seconds=5)
    assert time.monotonic() - started < 2


def test_wait_for_gives_up_after_its_time() -> None:
    calls = 0

    def never() -> bool:
        nonlocal calls
        calls += 1
        return False

    started = time.monotonic()
    assert not wait_for(never, seconds=0.2, interval=0.05)
    assert 0.2 <= time.monotonic() - started < 1.5
    assert calls >= 3, "it kept looking until the deadline, and once more after it"


@pytest.mark.asyncio
async def test_async_wait_for_lets_the_loop_run_the_task_that_makes_it_true() -> None:
    flags: list[bool] = []

    async def later() -> None:
        await asyncio.sleep(0.05)
        flags.append(True)

    task = asyncio.create_task(later())
    assert await async_wait_for(lambda: flags, seconds=5)
    await task


@pytest.mark.asyncio
async def test_async_wait_for_gives_up_after_its_time() -> None:
    started = time.monotonic()
    assert not await async_wait_for(lambda: False, seconds=0.1)
    assert 0.1 <= time.monotonic() - started < 1.5
