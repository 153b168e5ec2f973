"""What a request's actual usage costs: of the token budget (weighted) and in euros.

Pricing is read by the records of a finished request; reserving (`gateway.charging`) only needs the
worst case, which the planner computes on its own.
"""

from __future__ import annotations

from decimal import Decimal

from gateway.quotas.plan import Planner
from gateway.quotas.settings import QuotaConfig
from gateway.usage import Usage

__all__ = ["Pricing"]


class Pricing:
    """The `quotas` section's weights, model multipliers and prices, applied to an actual usage."""

    __slots__ = ("_config", "_planner")

    def __init__(self, config: QuotaConfig) -> None:
        self._config = config
        self._planner = Planner(config)

    def weighted_cost(self, model: str, usage: Usage, price_factor: float = 1.0) -> int:
        """What the budgets were charged; `price_factor`: a batch line's `quotas.batch_price_factor`."""
        return self._planner.cost(model, *usage.budget_tokens(), price_factor)

    def price_eur(self, model: str, usage: Usage, price_factor: float = 1.0) -> float:
        """What the usage costs in euros at the configured prices (0 when the model has none), times
        `price_factor` (a batch's lines: `quotas.batch_price_factor`)."""
        pricing = self._config.models.get(model)
        if pricing is None:
            return 0.0
        per_million = usage.prompt_tokens * (
            pricing.price_per_million_input or 0
        ) + usage.completion_tokens * (pricing.price_per_million_output or 0)
        # Seconds are priced when they are what is billed, never on top of a stream's tokens.
        audio = usage.audio_seconds * (pricing.price_per_audio_second or 0) if usage.billed_in_seconds else 0
        price = Decimal(per_million) / 1_000_000 + Decimal(audio)
        return float(price if price_factor == 1.0 else price * Decimal(str(price_factor)))
