"""Budget alerts: when a calendar budget's usage crosses a threshold, an event.

After each reservation (and each refusal) the ledger's answer says every counter's usage, in-flight
reservations included. For each calendar budget (tokens or euros) of the department and service
levels, `gateway_budget_used_ratio` is set; for each budget of any level whose usage reaches one of
`quotas.alerts.thresholds` (50, 80, 100% by default) for the first time in its period, in this
process, `gateway_budget_alerts_total` counts it and the webhooks receive it.

Usage counts reservations in progress at their worst case, so an alert may come a little early (a
request that reserved 4096 tokens and used 300): it says the budget may be that far gone, which is
when a finance office wants to know. Each replica that sees a crossing sends it; the event's id is
derived from the budget, its period and the threshold, the same in every replica, so receivers
keep the first and drop the rest.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from gateway.quotas.ledger import Refusal, Reservation
from gateway.quotas.plan import Counter
from gateway.quotas.settings import BudgetAlerts
from gateway.quotas.webhooks import WebhookSender

__all__ = ["BudgetWatch"]

_MEMORY = 100_000
"""Budgets whose last threshold is remembered (forgotten all at once beyond: repeats, never misses)."""


class BudgetWatch:
    """Turns ledger answers into gauges and threshold events. One per worker."""

    __slots__ = ("_announced", "_crossed", "_ratio", "_sender", "_thresholds")

    def __init__(
        self,
        settings: BudgetAlerts,
        *,
        ratio: Callable[[str, str, str, str, str, float], None] | None = None,
        crossed: Callable[[str, str, str, str, int], None] | None = None,
        sender: WebhookSender | None = None,
    ) -> None:
        self._thresholds = settings.thresholds
        self._ratio = ratio
        self._crossed = crossed
        self._sender = sender
        self._announced: dict[tuple[str, str], int] = {}

    def observe(self, department: str, service: str, outcome: Reservation | Refusal) -> None:
        """What a reservation or refusal of a request of `department`/`service` (its principal's) said."""
        if isinstance(outcome, Reservation):
            counters, used = outcome.counters, outcome.used
        else:
            counters, used = outcome.counters, outcome.all_used
        for index, counter in enumerate(counters):
            if counter.budget and counter.limit > 0:
                self._budget(department, service, counter, used[index])

    def _budget(self, department: str, service: str, counter: Counter, used: int) -> None:
        ratio = used / counter.limit
        level_service = "" if counter.level == "department" else service
        if self._ratio is not None and counter.level != "key":
            self._ratio(department, level_service, counter.level, counter.kind, counter.model or "", ratio)
        percent = ratio * 100
        reached = 0
        for threshold in self._thresholds:
            if percent >= threshold:
                reached = threshold
        if not reached:
            return
        name = (department, counter.key)
        if self._announced.get(name, 0) >= reached:
            return
        if len(self._announced) >= _MEMORY:
            self._announced.clear()
        self._announced[name] = reached
        if self._crossed is not None:
            self._crossed(department, level_service, counter.level, counter.kind, reached)
        if self._sender is not None:
            self._send(department, level_service, counter, used, reached)

    def _send(self, department: str, service: str, counter: Counter, used: int, threshold: int) -> None:
        assert self._sender is not None
        event_id = hashlib.sha256(f"{department}|{counter.key}|{threshold}".encode()).hexdigest()[:32]
        euros = counter.euros
        self._sender.send(
            event_id,
            department,
            {
                "type": "budget.threshold_reached",
                "id": event_id,
                "time": round(time.time(), 3),
                "department": department,
                "service": service or None,
                "level": counter.level,
                "scope": counter.scope,
                "limit": counter.kind,
                "model": counter.model,
                "threshold_percent": threshold,
                "unit": "eur" if euros else "weighted_tokens",
                "used": used / 1_000_000 if euros else used,
                "budget": counter.limit / 1_000_000 if euros else counter.limit,
                "period_end": counter.period_end,
            },
        )
