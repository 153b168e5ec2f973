"""Budgets and limits: token quotas per department, service and key, rate and concurrency limits.

    settings.py       the `quotas` configuration section
    periods.py        calendar days and months in a time zone; the rolling minute's buckets
    plan.py           Planner: a request -> the counters it touches, their limits and amounts (cached)
    ledger.py         the Ledger interface; Reservation, Refusal
    embedded.py       SQLite ledger (one process)     redis_ledger.py  Redis ledger (shared; Lua in
                                                                       redis_scripts.py)
    resilient.py      on_store_error: fail_closed (503) or fail_open (local counters, replayed later)
    headers.py        OpenAI's x-ratelimit-* headers
    pricing.py        Pricing: what an actual usage costs (weighted, in euros, energy: `Spent`)
    impacts.py        a request's energy and emissions, EcoLogits' method
    alerts.py         budget thresholds -> gauges, counters and webhook events
    webhooks.py       signed, retried delivery of those events to the configured URLs
    errors.py         QuotaExceeded (429), QuotaUnavailable (503), QuotaStoreError
    factory.py        configuration -> ledger

One request: `planner.plan(...)` -> `await ledger.reserve(plan)` -> a Reservation (forward, then
`settle` with the usage the backend reported, or `release` if the backend failed) or a Refusal
(`raise QuotaExceeded(refusal)`). `rate_limit_headers(outcome)` goes on every response.

`redis_ledger` is not imported here, so that processes without Redis never load redis-py.
"""

from gateway.quotas.embedded import EmbeddedLedger
from gateway.quotas.errors import QuotaError, QuotaExceeded, QuotaStoreError, QuotaUnavailable
from gateway.quotas.factory import open_ledger
from gateway.quotas.headers import format_duration, rate_limit_headers
from gateway.quotas.ledger import Ledger, Outcome, Refusal, Reservation, Settlement
from gateway.quotas.periods import Calendar, Period
from gateway.quotas.plan import Counter, Plan, Planner, weighted_cost
from gateway.quotas.resilient import ResilientLedger
from gateway.quotas.settings import LevelQuota, LimitKind, Limits, ModelPricing, QuotaConfig, Weights

__all__ = [
    "Calendar",
    "Counter",
    "EmbeddedLedger",
    "Ledger",
    "LevelQuota",
    "LimitKind",
    "Limits",
    "ModelPricing",
    "Outcome",
    "Period",
    "Plan",
    "Planner",
    "QuotaConfig",
    "QuotaError",
    "QuotaExceeded",
    "QuotaStoreError",
    "QuotaUnavailable",
    "Refusal",
    "Reservation",
    "ResilientLedger",
    "Settlement",
    "Weights",
    "format_duration",
    "open_ledger",
    "rate_limit_headers",
    "weighted_cost",
]
