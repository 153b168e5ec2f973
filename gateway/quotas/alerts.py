"""Budget alerts: when a calendar budget's usage crosses a threshold, an event.

After each reservation (and each refusal) the ledger's answer says every counter's usage, in-flight
reservations included. For each calendar budget (tokens or euros) of the department and service
levels, `gateway_budget_used_ratio` is set; for each budget of any level whose usage reaches one of
`quotas.alerts.thresholds` (50, 80, 100% by default) for the first time in its period, in this
process, `gateway_budget_alerts_total` counts it and the webhooks receive it.

Usage counts reservations in progress at their worst case, so an alert may come a little early (a
request that reserved 4096 tokens and used 300): it says the budget may be that far gone, which is
when a finance office wants to know.

Several processes (workers, replicas) see the same crossing. On the Redis store they claim it first
(`SET NX` on a key named by the event's id, which is derived from the budget, its period and the
threshold): only the one that wins counts it and sends it, so a crossing is one event, and the sum
of `gateway_budget_alerts_total` over processes is the number of crossings. If Redis cannot be asked,
the process sends anyway (at least once; receivers can dedupe on the id). On the embedded store
there is one process: it needs no claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from gateway.quotas.ledger import Refusal, Reservation
from gateway.quotas.plan import Counter
from gateway.quotas.settings import BudgetAlerts
from gateway.quotas.webhooks import WebhookSender
from gateway.storage.settings import StoreConfig

__all__ = ["AlertClaims", "BudgetWatch", "RedisAlertClaims", "alert_claims"]

logger = logging.getLogger("gateway.quotas.alerts")

_CLAIM_GRACE_MS = 86_400_000
"""A claim outlives its budget's period by a day: late reservations of the period are recognised."""


class AlertClaims(Protocol):
    """Who sends a crossing: the first process to claim its event id."""

    async def claim(self, department: str, event_id: str, ttl_ms: int) -> bool: ...

    async def close(self) -> None: ...


class RedisAlertClaims:
    """Claims in the Redis store: `SET <prefix>:alert:{department}:<event id> 1 NX PX ttl`."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    async def claim(self, department: str, event_id: str, ttl_ms: int) -> bool:
        from redis.exceptions import RedisError

        key = f"{self._prefix}:alert:{{{department}}}:{event_id}"
        try:
            return bool(await self._client.set(key, "1", nx=True, px=max(1000, ttl_ms)))
        except (RedisError, OSError) as exc:
            logger.warning("cannot claim budget alert %s in Redis (%s); sending it anyway", event_id, exc)
            return True

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._client.aclose()


_MEMORY = 100_000
"""Budgets whose last threshold is remembered (forgotten all at once beyond: repeats, never misses)."""


class BudgetWatch:
    """Turns ledger answers into gauges and threshold events. One per worker."""

    __slots__ = ("_announced", "_claims", "_crossed", "_pending", "_ratio", "_sender", "_thresholds")

    def __init__(
        self,
        settings: BudgetAlerts,
        *,
        ratio: Callable[[str, str, str, str, str, float], None] | None = None,
        crossed: Callable[[str, str, str, str, int], None] | None = None,
        sender: WebhookSender | None = None,
        claims: AlertClaims | None = None,
    ) -> None:
        self._thresholds = settings.thresholds
        self._ratio = ratio
        self._crossed = crossed
        self._sender = sender
        self._claims = claims
        self._announced: dict[tuple[str, str], int] = {}
        self._pending: set[asyncio.Task[None]] = set()

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
        event_id = hashlib.sha256(f"{department}|{counter.key}|{reached}".encode()).hexdigest()[:32]
        if self._claims is None:
            self._announce(event_id, department, level_service, counter, used, reached)
            return
        task = asyncio.get_running_loop().create_task(
            self._claimed(event_id, department, level_service, counter, used, reached)
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _claimed(
        self, event_id: str, department: str, service: str, counter: Counter, used: int, threshold: int
    ) -> None:
        assert self._claims is not None
        ttl_ms = int(counter.period_end * 1000 - time.time() * 1000) + _CLAIM_GRACE_MS
        if await self._claims.claim(department, event_id, ttl_ms):
            self._announce(event_id, department, service, counter, used, threshold)

    def _announce(
        self, event_id: str, department: str, service: str, counter: Counter, used: int, threshold: int
    ) -> None:
        if self._crossed is not None:
            self._crossed(department, service, counter.level, counter.kind, threshold)
        if self._sender is not None:
            self._send(event_id, department, service, counter, used, threshold)

    async def close(self) -> None:
        """Let the claims in progress finish (they are quick), then release the claims' store."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=2.0)
        if self._claims is not None:
            await self._claims.close()

    def _send(
        self, event_id: str, department: str, service: str, counter: Counter, used: int, threshold: int
    ) -> None:
        assert self._sender is not None
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


def alert_claims(store: StoreConfig) -> AlertClaims | None:
    """The claims of the configured store: Redis's, shared by every process; none on the embedded
    store, whose one process needs none."""
    if store.kind != "redis":
        return None
    from gateway.storage.redis_client import connect_redis
    from gateway.storage.redis_target import redis_target

    target = redis_target(store)
    client = connect_redis(
        target.url,
        password=target.password,
        timeout=store.timeout,
        client_name="sovereign-gateway-alerts",
        max_connections=4,
        topology=target.topology,
    )
    return RedisAlertClaims(client, store.prefix)
