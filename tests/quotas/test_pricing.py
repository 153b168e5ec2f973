"""Pricing: what an actual usage costs of the token budget and in euros."""

from __future__ import annotations

import asyncio

import pytest

from gateway.background import BackgroundWork
from gateway.quotas import QuotaConfig
from gateway.quotas.pricing import Pricing
from gateway.usage import Usage

_CONFIG = QuotaConfig.model_validate(
    {
        "weights": {"input": 1.0, "output": 2.0},
        "models": {
            "big": {"multiplier": 3.0, "price_per_million_input": 0.5, "price_per_million_output": 1.5}
        },
    }
)


def test_weighted_cost_applies_the_weights_and_the_models_multiplier() -> None:
    pricing = Pricing(_CONFIG)
    assert pricing.weighted_cost("big", Usage(100, 10)) == (100 + 2 * 10) * 3
    assert pricing.weighted_cost("small", Usage(100, 10)) == 100 + 2 * 10


def test_price_is_per_million_tokens_and_zero_for_a_model_without_prices() -> None:
    pricing = Pricing(_CONFIG)
    assert pricing.price_eur("big", Usage(1_000_000, 2_000_000)) == pytest.approx(0.5 + 3.0)
    assert pricing.price_eur("small", Usage(1_000_000, 1_000_000)) == 0.0


def test_background_work_is_kept_until_it_ends_and_drained() -> None:
    finished: list[int] = []

    async def settle(number: int) -> None:
        await asyncio.sleep(0.01)
        finished.append(number)

    async def run() -> None:
        work = BackgroundWork()
        for number in range(3):
            work.start(settle(number))
        await work.drain(seconds=5)
        await work.drain()  # nothing left: returns at once

    asyncio.run(run())
    assert sorted(finished) == [0, 1, 2]
