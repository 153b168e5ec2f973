"""The Redis ledger: budgets shared by every worker and replica, one Lua script per operation.

A reserve is one round trip that checks and charges every counter of every level, or none; a settle
or a release is another. The layout and the scripts are in `redis_scripts.py`.

The clock is Redis's own `TIME`, read inside the scripts: replicas whose clocks drift still agree on
rolling-minute buckets, expiries and calendar periods. The calendar periods (days and months in a
time zone) are computed by the gateway, from its own clock; when Redis's time is outside them (a
request at midnight on a gateway a second late), the script refuses to decide and answers its time,
and the gateway plans again for that time, in a second round trip that only happens at period ends.

Standalone and Sentinel: the script calls of one event-loop iteration (every request's reserve,
settle or release) go to Redis together, in one pipeline (`script_batch.py`), which costs far less
CPU per call than a round trip each; every caller still gets its own reply or its own error.

On Redis Cluster: each call goes on its own, to its department's node (a batch would span nodes).
Each script's keys are one department's, under its hash tag, so in one slot, and redis-py loads a
script on the node that answers NOSCRIPT (a new node, a promoted replica).
`outstanding()` and `sweep()` over every department SCAN each primary in turn (redis-py's cluster
`scan_iter` does), since one node only lists its own keys.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Protocol

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from gateway.quotas.errors import QuotaStoreError
from gateway.quotas.ledger import Ledger, Outcome, Reservation, Settlement, empty_reservation, outcome_of
from gateway.quotas.plan import Plan
from gateway.quotas.redis_scripts import FINISH, RESERVE, SWEEP_BATCH
from gateway.quotas.script_batch import ScriptBatcher
from gateway.storage.redis_client import RedisClient, connect_redis
from gateway.storage.redis_target import STANDALONE, RedisTopology

__all__ = ["RedisLedger"]

_REPLANS = 3
"""Round trips a reservation may take when Redis's clock is at a period boundary (one is enough
unless the calls straddle two boundaries)."""


class _Script(Protocol):
    """A script, batched or redis-py's own `AsyncScript`: both are called the same way."""

    def __call__(self, keys: Sequence[str], args: Sequence[str | int]) -> Awaitable[Any]: ...


@contextlib.contextmanager
def _mapped_errors(action: str) -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise QuotaStoreError(f"Redis quota store: cannot {action}: {type(exc).__name__}: {exc}") from exc


class RedisLedger(Ledger):
    """Budgets in Redis. `from_url` builds its own client; the constructor takes one (and closes it).

    `clock` is for tests only: it replaces Redis's `TIME` in the scripts (epoch seconds).
    """

    def __init__(
        self,
        client: RedisClient,
        *,
        prefix: str = "sgw",
        reservation_ttl: float = 900.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.reservation_ttl = reservation_ttl
        self._ttl_ms = int(reservation_ttl * 1000)
        self._clock = clock
        self._reserve: _Script
        self._finish: _Script
        self._batcher: ScriptBatcher | None = None
        if isinstance(client, RedisCluster):
            # A batch's calls would belong to several nodes: each call goes alone to its slot's node.
            self._reserve = client.register_script(RESERVE)
            self._finish = client.register_script(FINISH)
        else:
            self._batcher = ScriptBatcher(client)
            self._reserve = self._batcher.script(RESERVE)
            # Nobody waits for a settlement or a release but a background task: each rides with the
            # next reservation's round trip (script_batch.py).
            self._finish = functools.partial(self._batcher.script(FINISH), deferrable=True)
        self._closed = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        password: str | None = None,
        prefix: str = "sgw",
        timeout: float = 2.0,
        # Every request in flight reserves, then settles: under a burst of several hundred requests
        # per worker, a pool of 64 made requests wait for a connection past `timeout` and get 503.
        max_connections: int = 512,
        reservation_ttl: float = 900.0,
        clock: Callable[[], float] | None = None,
        topology: RedisTopology = STANDALONE,
    ) -> RedisLedger:
        client = connect_redis(
            url,
            password=password,
            timeout=timeout,
            client_name="sovereign-gateway-quotas",
            max_connections=max_connections,
            topology=topology,
        )
        return cls(client, prefix=prefix, reservation_ttl=reservation_ttl, clock=clock)

    @property
    def script_batcher(self) -> ScriptBatcher | None:
        """What batches the script calls (its counters say how many pipelines went out); None on a Cluster."""
        return self._batcher

    def __repr__(self) -> str:
        return f"RedisLedger(prefix={self._prefix!r})"

    def _base(self, department: str) -> str:
        return f"{self._prefix}:q:{{{department}}}:"

    def _now_arg(self) -> str:
        return "" if self._clock is None else str(int(self._clock() * 1000))

    async def _reserve_call(self, plan: Plan, rid: str, dry: bool) -> tuple[Plan, list[int]]:
        for _ in range(_REPLANS):
            base = self._base(plan.department)
            keys = [f"{base}open", f"{base}r:{rid}"]
            bounded = plan.valid_until != float("inf")
            args: list[str | int] = [
                self._now_arg(),
                rid,
                self._ttl_ms,
                int(plan.valid_from * 1000) if bounded else "",
                int(plan.valid_until * 1000) if bounded else "",
                "1" if dry else "0",
                f"{base}r:",
            ]
            for counter in plan.counters:
                keys.append(base + counter.key)
                args += (
                    counter.code,
                    counter.limit,
                    plan.amount_for(counter),
                    int(counter.period_end * 1000),
                )
            with _mapped_errors("reserve"):
                reply = [int(value) for value in await self._reserve(keys=keys, args=args)]
            if reply[0] != -1:
                return plan, reply
            plan = plan.at(reply[1] / 1000)
        raise QuotaStoreError("Redis quota store: its clock keeps leaving the planned calendar period")

    # -- Ledger -----------------------------------------------------------------------------------

    async def reserve(self, plan: Plan) -> Outcome:
        if not plan.counters:
            return empty_reservation(plan, time.time() if self._clock is None else self._clock())
        rid = os.urandom(12).hex()
        plan, reply = await self._reserve_call(plan, rid, False)
        return outcome_of(
            plan,
            rid,
            refused=reply[0] == 0,
            used=tuple(reply[4::2]),
            resets_ms=tuple(reply[5::2]),
            bucket=reply[2],
            now=reply[1] / 1000,
            ttl=self.reservation_ttl,
        )

    async def _finish_call(self, reservation: Reservation, costs: tuple[int, int] | None) -> int:
        base = self._base(reservation.department)
        keys = [f"{base}open", f"{base}r:{reservation.id}"]
        args: list[str | int] = [
            self._now_arg(),
            reservation.id,
            "" if costs is None else costs[0],
            reservation.bucket,
            self._ttl_ms,
            0 if costs is None else costs[1],
        ]
        for counter in reservation.counters:
            keys.append(base + counter.key)
            args += (counter.code, reservation.amount_for(counter), int(counter.period_end * 1000))
        with _mapped_errors("settle" if costs is not None else "release"):
            reply = await self._finish(keys=keys, args=args)
        return int(reply[0])

    async def settle(
        self, reservation: Reservation, input_tokens: int, output_tokens: int, eur: int | None = None
    ) -> Settlement:
        if not reservation.id:
            return "settled"
        found = await self._finish_call(reservation, reservation.costs(input_tokens, output_tokens, eur))
        return "settled" if found == 1 else "duplicate" if found == 0 else "late"

    async def release(self, reservation: Reservation) -> bool:
        if not reservation.id:
            return False
        return await self._finish_call(reservation, None) == 1

    async def usage(self, plan: Plan) -> tuple[int, ...]:
        if not plan.counters:
            return ()
        _, reply = await self._reserve_call(plan, "", True)
        return tuple(reply[4::2])

    async def outstanding(self, department: str | None = None) -> int:
        with _mapped_errors("count reservations"):
            if department is not None:
                return int(await self._client.zcard(f"{self._base(department)}open"))
            total = 0
            async for key in self._client.scan_iter(match=f"{self._prefix}:q:{{*}}:open", count=1000):
                total += int(await self._client.zcard(key))
            return total

    async def _departments(self) -> list[str]:
        start = len(self._prefix) + 4  # "<prefix>:q:{"
        found = []
        with _mapped_errors("list departments"):
            async for key in self._client.scan_iter(match=f"{self._prefix}:q:{{*}}:open", count=1000):
                found.append(str(key)[start : -len("}:open")])
        return found

    async def sweep(self, department: str | None = None) -> int:
        departments = [department] if department is not None else await self._departments()
        total = 0
        for name in departments:
            base = self._base(name)
            while True:
                args: list[str | int] = [self._now_arg(), "", self._ttl_ms, "", "", "1", f"{base}r:"]
                with _mapped_errors("sweep reservations"):
                    reply = await self._reserve(keys=[f"{base}open", f"{base}r:"], args=args)
                swept = int(reply[3])
                total += swept
                if swept < SWEEP_BATCH:
                    break
        return total

    async def ping(self) -> None:
        with _mapped_errors("ping"):
            if isinstance(self._client, RedisCluster):
                # Every primary: departments are spread over them, and "the store is back" (which
                # ends fail_open's local enforcement) must hold for all of them, not one.
                await self._client.ping(target_nodes=RedisCluster.PRIMARIES)
            else:
                await self._client.ping()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._batcher is not None:
            await self._batcher.aclose()
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()
