"""Step 5 of the pipeline: reserve a request's worst case on every budget, then settle or release it.

Every path a request can take ends its reservation exactly once: settled with the usage the backend
reported (or, when the client left mid-stream, with what was generated), released when the backend
failed. Settling happens after the last byte has gone to the client, off the critical path (as
`gateway.background.BackgroundWork`); what a usage costs is `gateway.quotas.pricing`'s.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from gateway.audio_duration import AUDIO_TOKENS_PER_SECOND
from gateway.identity import Principal
from gateway.parsing import ParsedRequest
from gateway.quotas import (
    Ledger,
    Planner,
    QuotaConfig,
    QuotaExceeded,
    Refusal,
    Reservation,
    rate_limit_headers,
)
from gateway.quotas.alerts import BudgetWatch
from gateway.quotas.ledger import empty_reservation
from gateway.quotas.pricing import Spent
from gateway.quotas.settings import MICRO
from gateway.routing.pool import ModelPool
from gateway.usage import Usage

__all__ = ["Charge", "QuotaStep"]

logger = logging.getLogger("gateway.quotas")


def micro_euros(cost_eur: float) -> int:
    """The price a euro budget is charged: micro-euros, rounded up as the reservation was."""
    return math.ceil(round(cost_eur * MICRO, 3))


class Charge:
    """One request's reservation; `settle` or `release` ends it (the second call does nothing)."""

    __slots__ = ("_done", "_ledger", "headers", "input_bound", "output_bound", "reservation")

    def __init__(self, ledger: Ledger, reservation: Reservation, input_bound: int, output_bound: int) -> None:
        self._ledger = ledger
        self._done = False
        self.reservation = reservation
        self.input_bound = input_bound
        # The output tokens reserved, all choices together (0 when nothing is limited).
        self.output_bound = output_bound
        self.headers = rate_limit_headers(reservation)

    @property
    def done(self) -> bool:
        return self._done

    async def settle(self, usage: Usage, spent: Spent | None = None) -> None:
        """Charge the actual usage; `spent` (what `Pricing.spend` made of it) gives its euros."""
        if self._done:
            return
        self._done = True
        try:
            eur = None if spent is None else micro_euros(spent.cost_eur)
            await self._ledger.settle(self.reservation, *usage.budget_tokens(), eur)
        except Exception:  # the resilient ledger queues what it cannot write; anything else is logged
            logger.exception("settling a reservation failed")

    async def release(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            await self._ledger.release(self.reservation)
        except Exception:
            logger.exception("releasing a reservation failed")


class QuotaStep:
    """Reserves before forwarding; the `Charge` it returns settles or releases."""

    def __init__(self, config: QuotaConfig, ledger: Ledger, watch: BudgetWatch | None = None) -> None:
        self._config = config
        self._planner = Planner(config)
        self._ledger = ledger
        # Budget gauges and alerts, from what each reservation says of every budget's usage.
        self._watch = watch
        for budget in config.unpriced_euro_budgets():
            logger.warning(
                "euro budget of %s: the model has no price, so nothing is ever charged to it", budget
            )

    async def reserve(
        self, principal: Principal, parsed: ParsedRequest, pool: ModelPool, *, price_factor: float = 1.0
    ) -> tuple[Charge, dict[str, Any] | None]:
        """The request's charge, and the fields to add upstream (a `max_tokens` when the client gave
        none: the backend must not generate more than was reserved). `price_factor` scales what its
        tokens weigh on the budgets (a batch's lines: `quotas.batch_price_factor`). Raises
        QuotaExceeded (429) or QuotaUnavailable (503)."""
        if not self._config.enabled:
            # Nothing is limited: no bound to compute, no store to ask, nothing to forward in addition.
            now = time.time()
            plan = self._planner.plan(
                principal.department, principal.service, principal.key_id, parsed.model, 0, 0, now
            )
            return Charge(self._ledger, empty_reservation(plan, now), 0, 0), None
        operation = parsed.operation
        payload = parsed.payload
        context = pool.max_model_len()
        input_bound = operation.input_token_bound(payload)
        if context is not None:
            # vLLM refuses a prompt longer than the context without running it; a batch holds
            # several prompts, each bounded alone.
            input_bound = min(input_bound, context * operation.prompts(payload))
        extra: dict[str, Any] | None = None
        # An upload's audio: what its transcript can hold, whatever the prompt (0 for other bodies).
        output = parsed.audio_seconds * AUDIO_TOKENS_PER_SECOND
        field = operation.output_limit_field
        if field is not None:  # it generates: its output is reserved, and bounded upstream
            asked = payload.get("max_completion_tokens") or payload.get(field)
            asked_tokens = asked if isinstance(asked, int) and not isinstance(asked, bool) else None
            n = operation.choices(payload)
            output += self._planner.output_allowance(asked_tokens, context_left=context, choices=n)
            if asked_tokens is None:
                extra = {field: output // n}
        principal_plan = self._planner.plan(
            principal.department,
            principal.service,
            principal.key_id,
            parsed.model,
            input_bound,
            output,
            time.time(),
            audio_seconds=parsed.audio_seconds,
            price_factor=price_factor,
        )
        outcome = await self._ledger.reserve(principal_plan)
        if self._watch is not None:
            self._watch.observe(principal.department, principal.service, outcome)
        if isinstance(outcome, Refusal):
            raise QuotaExceeded(outcome)
        return Charge(self._ledger, outcome, input_bound, output), extra

    async def close(self) -> None:
        """Close the ledger, once no settlement is left to run (`BackgroundWork.drain`)."""
        await self._ledger.close()
