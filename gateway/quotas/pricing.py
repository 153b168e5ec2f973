"""What a request's actual usage costs: of the token budget (weighted), in euros, in energy.

Pricing is read by the records of a finished request; reserving (`gateway.charging`) only needs the
worst case, which the planner computes on its own.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from gateway.quotas.impacts import NO_IMPACTS, ImpactEstimator, RequestImpacts
from gateway.quotas.plan import Planner
from gateway.quotas.settings import QuotaConfig
from gateway.usage import Usage, usage_span

__all__ = ["Pricing", "Spent", "spent_headers", "with_usage_fields"]


class Spent(msgspec.Struct, frozen=True, gc=False):
    """What one request cost, as its record, its headers and its metrics say it."""

    weighted_cost: int
    cost_eur: float
    impacts: RequestImpacts | None
    """None when the model's size is not configured (nothing estimated, rather than 0)."""

    @property
    def energy_wh(self) -> float:
        return 0.0 if self.impacts is None else self.impacts.energy_wh

    @property
    def emissions_gco2eq(self) -> float:
        return 0.0 if self.impacts is None else self.impacts.emissions_gco2eq


def spent_headers(spent: Spent) -> dict[str, str]:
    """`x-gateway-cost-eur` (six decimals, exact micro-euros), and `x-gateway-energy-wh` when the
    model's energy is estimated."""
    headers = {"x-gateway-cost-eur": f"{spent.cost_eur:.6f}"}
    if spent.impacts is not None:
        headers["x-gateway-energy-wh"] = f"{spent.impacts.energy_wh:.6g}"
    return headers


def with_usage_fields(body: bytes, spent: Spent) -> bytes:
    """`body` (a whole JSON answer) with `cost_eur`, and `energy_wh` and `emissions_gco2eq` when
    estimated, added at the end of its `usage` object; unchanged when it has none. The object is
    found from the end, as `gateway.usage` reads it, and the fields spliced in, so that the rest of
    the answer is relayed byte for byte."""
    span = usage_span(body)
    if span is None:
        return body
    start, end = span
    fields = f'"cost_eur":{spent.cost_eur:.6f}'
    if spent.impacts is not None:
        fields += (
            f',"energy_wh":{spent.impacts.energy_wh:.6g}'
            f',"emissions_gco2eq":{spent.impacts.emissions_gco2eq:.6g}'
        )
    closing = end - 1
    separator = b"" if body[start + 1 : closing].strip() == b"" else b","
    return body[:closing] + separator + fields.encode() + body[closing:]


class Pricing:
    """The `quotas` section's weights, model multipliers, prices and sizes, applied to an actual usage."""

    __slots__ = ("_config", "_estimator", "_planner")

    def __init__(self, config: QuotaConfig) -> None:
        self._config = config
        self._planner = Planner(config)
        self._estimator: ImpactEstimator | None = None
        if any(model.active_parameters_billions is not None for model in config.models.values()):
            self._estimator = ImpactEstimator(config.impacts.electricity_mix, config.impacts.datacenter_pue)

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

    def impacts(self, model: str, usage: Usage, latency_s: float) -> RequestImpacts | None:
        """The request's energy and emissions; None when the model's size is not configured."""
        pricing = self._config.models.get(model)
        if pricing is None or pricing.active_parameters_billions is None or self._estimator is None:
            return None
        if usage.completion_tokens <= 0:
            return NO_IMPACTS
        active = pricing.active_parameters_billions
        total = pricing.total_parameters_billions or active
        return self._estimator.estimate(active, total, usage.completion_tokens, latency_s)

    def spend(self, model: str, usage: Usage, latency_s: float, price_factor: float = 1.0) -> Spent:
        """Everything a finished request cost; `price_factor` as for `weighted_cost`."""
        return Spent(
            self.weighted_cost(model, usage, price_factor),
            self.price_eur(model, usage, price_factor),
            self.impacts(model, usage, latency_s),
        )
