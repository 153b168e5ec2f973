"""The failed-authentication limiter, with a clock the tests move."""

from __future__ import annotations

import pytest

from gateway.identity import FailureLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_blocks_after_n_failures_within_the_window_and_only_that_address() -> None:
    clock = Clock()
    limiter = FailureLimiter(3, window=60, block_seconds=30, clock=clock)
    assert limiter.record_failure("a") is False
    assert limiter.record_failure("a") is False
    assert limiter.retry_after("a") == 0
    assert limiter.record_failure("a") is True
    assert limiter.retry_after("a") == pytest.approx(30)
    assert limiter.retry_after("b") == 0
    clock.now += 29
    assert limiter.retry_after("a") == pytest.approx(1)
    clock.now += 1.5
    assert limiter.retry_after("a") == 0


def test_the_window_slides() -> None:
    clock = Clock()
    limiter = FailureLimiter(3, window=60, block_seconds=30, clock=clock)
    for _ in range(10):  # one failure every 30 s: never 3 within a minute
        assert limiter.record_failure("a") is False
        clock.now += 30.1
    assert limiter.retry_after("a") == 0
    limiter.record_failure("a")
    clock.now += 59
    limiter.record_failure("a")
    assert limiter.record_failure("a") is True


def test_memory_is_bounded_and_idle_addresses_go_first() -> None:
    clock = Clock()
    limiter = FailureLimiter(2, window=60, block_seconds=600, max_addresses=100, clock=clock)
    limiter.record_failure("attacker")
    limiter.record_failure("attacker")
    assert limiter.retry_after("attacker") > 0
    clock.now += 61
    for number in range(1000):
        limiter.record_failure(f"10.0.{number // 256}.{number % 256}")
        assert len(limiter) <= 100
    # The blocked address outlived a thousand idle ones passing through.
    assert limiter.retry_after("attacker") > 0


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FailureLimiter(0)
