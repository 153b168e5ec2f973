"""The ledger interface: reserve, settle, release; and what they answer.

    reserve(plan)      every counter of the plan at once, or none: a Reservation, or a Refusal that says
                       which limit ran out and when it frees
    settle(r, in, out, eur) the actual weighted cost (and euros) replaces the reservation everywhere; the rest and the
                       concurrency slot are given back. Idempotent: a second settle, or a settle after a
                       release, changes nothing; a settle arriving after the reservation expired (and was
                       given back) charges the actual cost then, once.
    release(r)         a backend failure: everything is given back. Idempotent.

A reservation not settled or released within the ledger's TTL is given back by the ledger itself
(swept lazily by the next reservations of its department, or by `sweep`), so that a gateway that died
holds nothing for long. Usage is attributed to the periods in which the request was reserved.

Implementations: `EmbeddedLedger` (SQLite, one process), `RedisLedger` (shared, one Lua script per
operation), and `ResilientLedger`, which wraps either with the `on_store_error` behaviour.
"""

from __future__ import annotations

import abc
import math
from typing import Literal

import msgspec

from gateway.quotas.plan import Counter, Plan

__all__ = [
    "COUNTER_GRACE_MS",
    "RECORD_KEEP_MS",
    "Ledger",
    "Outcome",
    "Refusal",
    "Reservation",
    "Settlement",
    "empty_reservation",
    "outcome_of",
    "refused_by",
]

COUNTER_GRACE_MS = 86_400_000
"""A calendar budget is kept this long after its period ends, for the settles that arrive late."""
RECORD_KEEP_MS = 3_600_000
"""A reservation's record is kept this long after its expiry, so that a second or late settle is
recognised: a settle arriving later still is charged as unknown, which charges a duplicate twice.
Duplicates come from retries (milliseconds) and from replays after a store outage (that outage's
length): an hour bounds both, and keeps the store small (one record per request of the last
TTL + 1 h, a few bytes each once finished)."""

Settlement = Literal["settled", "late", "duplicate", "deferred"]
"""`settled`: the reservation was replaced by the actual cost. `late`: it had expired and been given
back, and the actual cost was charged now. `duplicate`: already settled or released, nothing changed.
`deferred` (ResilientLedger only): the store is unreachable, the settlement waits to be replayed."""


class Reservation(msgspec.Struct, frozen=True, gc=False):
    """Budget held for one request until it is settled or released."""

    id: str
    """Random; empty for a plan without counters (nothing was reserved, nothing to settle)."""
    department: str
    counters: tuple[Counter, ...]
    used: tuple[int, ...]
    """Each counter's usage once this reservation is counted: what the rate-limit headers report."""
    resets: tuple[float, ...]
    """Seconds until each counter frees some capacity (a calendar budget: until the period ends)."""
    amount: int
    """Weighted tokens held on each token counter."""
    input_weight: int
    output_weight: int
    bucket: int
    """The rolling-minute bucket the reservation was counted in."""
    expires_at: float
    """Epoch seconds (of the ledger's clock) after which the ledger gives it back by itself."""
    origin: str = "store"
    """`local` when `ResilientLedger` made it on its in-process ledger while the store was down."""
    eur_amount: int = 0
    """Micro-euros held on each euro budget."""
    eur_input_weight: int = 0
    """Prices per token in millionths of a micro-euro, for a settle that is not given its euros."""
    eur_output_weight: int = 0

    def amount_for(self, counter: Counter) -> int:
        if counter.tokens:
            return self.amount
        return self.eur_amount if counter.euros else 1

    def costs(self, input_tokens: int, output_tokens: int, eur: int | None) -> tuple[int, int]:
        """What a settle charges: (weighted tokens, micro-euros), the euros `eur` when given (a
        usage billed in seconds of audio), else those of the tokens at the reserved prices."""
        if eur is None:
            micro = (
                max(0, input_tokens) * self.eur_input_weight + max(0, output_tokens) * self.eur_output_weight
            )
            eur = -(-micro // 1_000_000)
        return self.cost(input_tokens, output_tokens), max(0, eur)

    def cost(self, input_tokens: int, output_tokens: int) -> int:
        """Weighted cost of the actual usage, rounded up."""
        micro = max(0, input_tokens) * self.input_weight + max(0, output_tokens) * self.output_weight
        return -(-micro // 1_000_000)


class Refusal(msgspec.Struct, frozen=True, gc=False):
    """A request that does not fit: `counter` ran out (the one that frees last, if several did)."""

    counter: Counter
    used: int
    """The counter's usage now (reservations in progress included)."""
    amount: int
    """What the request needed on this counter."""
    retry_after: float | None
    """Seconds until the request could fit; None if it never can (it alone exceeds the limit)."""
    counters: tuple[Counter, ...]
    all_used: tuple[int, ...]
    resets: tuple[float, ...]
    reset_local: str | None = None
    """For a calendar budget, when it resets, in local time: `2026-11-01 00:00 Europe/Paris`."""

    @property
    def code(self) -> Literal["insufficient_quota", "rate_limit_exceeded"]:
        return "insufficient_quota" if self.counter.budget else "rate_limit_exceeded"

    @property
    def never_fits(self) -> bool:
        return self.retry_after is None


Outcome = Reservation | Refusal


def refused_by(plan: Plan, used: tuple[int, ...], resets: tuple[float, ...]) -> int | None:
    """Index of the counter that refuses the plan given each counter's usage, or None if it fits.

    Among several, the one the request can never fit, else the one that frees last: retrying before
    it frees is useless. The stores decide with the same rule (`used + amount > limit`)."""
    chosen: int | None = None
    chosen_reset = -1.0
    for index, counter in enumerate(plan.counters):
        amount = plan.amount_for(counter)
        if used[index] + amount <= counter.limit:
            continue
        reset = math.inf if amount > counter.limit else resets[index]
        if reset > chosen_reset:
            chosen, chosen_reset = index, reset
    return chosen


def outcome_of(
    plan: Plan,
    reservation_id: str,
    *,
    refused: bool,
    used: tuple[int, ...],
    resets_ms: tuple[int, ...],
    bucket: int,
    now: float,
    ttl: float,
) -> Outcome:
    """Turn what a store answered into a Reservation or a Refusal. `used` is the usage before this
    request (refused) or after it (reserved); `resets_ms` a negative number for "never"."""
    resets = tuple(max(0.0, reset / 1000) if reset >= 0 else math.inf for reset in resets_ms)
    if not refused:
        return Reservation(
            reservation_id,
            plan.department,
            plan.counters,
            used,
            resets,
            plan.amount,
            plan.input_weight,
            plan.output_weight,
            bucket,
            now + ttl,
            eur_amount=plan.eur_amount,
            eur_input_weight=plan.eur_input_weight,
            eur_output_weight=plan.eur_output_weight,
        )
    index = refused_by(plan, used, resets)
    if index is None:
        raise RuntimeError("the store refused a reservation that fits every limit")
    counter = plan.counters[index]
    amount = plan.amount_for(counter)
    retry_after = None if amount > counter.limit or math.isinf(resets[index]) else resets[index]
    return Refusal(
        counter,
        used[index],
        amount,
        retry_after,
        plan.counters,
        used,
        resets,
        plan.local_time(counter.period_end) if counter.budget else None,
    )


def empty_reservation(plan: Plan, now: float) -> Reservation:
    """The reservation of a plan without counters: nothing held, nothing to settle."""
    return Reservation(
        "",
        plan.department,
        (),
        (),
        (),
        plan.amount,
        plan.input_weight,
        plan.output_weight,
        0,
        now,
        eur_amount=plan.eur_amount,
    )


class Ledger(abc.ABC):
    """Budgets and limits in a store. Implementations map their store's errors to `QuotaStoreError`."""

    reservation_ttl: float

    @abc.abstractmethod
    async def reserve(self, plan: Plan) -> Reservation | Refusal:
        """Reserve `plan` on every counter at once, or on none."""

    @abc.abstractmethod
    async def settle(
        self, reservation: Reservation, input_tokens: int, output_tokens: int, eur: int | None = None
    ) -> Settlement:
        """Replace the reservation by the actual usage (see the module's docstring): its weighted
        tokens on token counters, its micro-euros `eur` on euro budgets (None: its tokens at the
        reservation's prices)."""

    @abc.abstractmethod
    async def release(self, reservation: Reservation) -> bool:
        """Give everything back; True if something was still held."""

    @abc.abstractmethod
    async def usage(self, plan: Plan) -> tuple[int, ...]:
        """Each counter's usage now (reservations in progress included), reserving nothing."""

    @abc.abstractmethod
    async def outstanding(self, department: str | None = None) -> int:
        """Reservations neither settled, released nor swept yet (of one department, or all)."""

    @abc.abstractmethod
    async def sweep(self, department: str | None = None) -> int:
        """Give back the expired reservations now (of one department, or all); how many there were."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Return if the store answers; `QuotaStoreError` if not."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. Idempotent."""
