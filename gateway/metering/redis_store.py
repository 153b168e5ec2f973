"""The Redis usage store: a stream of records per department and month, plus rollups.

Layout, with the default prefix `sgw` (month and day local, in the store's time zone):

    sgw:usage:{<department>}:<month>:records        stream: one entry per request, every record field
    sgw:usage:{<department>}:<month>:cells          set: the rollups of that month, as JSON [day, service, model]
    sgw:usage:{<department>}:<month>:cell:<json>    hash: requests, prompt_tokens, completion_tokens,
                                                    cached_tokens, weighted_cost, cost_micro_eur,
                                                    audio_seconds, energy_micro_wh, emissions_micro_g
    sgw:usage:{<department>}:batch:<batch id>       string: this batch's share was written (expires in a day)
    sgw:usage:months:<month>:departments            set: departments with usage that month (reports of all)

Hash tags are per department, the same choice as the budgets' keys: everything a department's share
of a batch touches lives in one slot, so it is written by one Lua script, atomically (the records,
the rollups and the batch marker together), on Redis Cluster too; and the load spreads over the
shards by department instead of piling a whole month onto one. A batch spanning several departments
is one script call per department and month, sent in one pipeline; on a Cluster, whose client refuses
scripts in pipelines, one call per share, all at once (see `_write_on_cluster`).

Counters are integers (euros in micro-euros), so the sums are exact. A counter or a record field
absent from what an older gateway wrote (`audio_seconds`, `energy_wh`...) reads as 0: an entry written before a field
was metered is read as it was, without a migration. The script carries the
`#!lua` flags line: Redis (7.0 or later) then refuses it before it starts when out of memory, so a
share of a batch is never half-written; the marker makes a retried share a no-op.

Retention: streams are never trimmed with MAXLEN, which would drop records of the month being written
before any report or export had read them. Instead each key expires as a whole, a configured number
of days after its month ends (records: `records_retention_days`, rollups: `rollups_retention_days`).

Durability: what Redis acknowledged is as durable as Redis is configured to be; run it with AOF
(`appendonly yes`, `appendfsync everysec` or `always`) so that usage survives its restart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from gateway.metering.errors import InvalidUsageQuery, UsageStoreError
from gateway.metering.periods import DEFAULT_TIMEZONE, Calendar, Period
from gateway.metering.records import (
    COUNTERS,
    METERED_FIELDS,
    UsageCell,
    micro_euros,
    micro_units,
    read_metered,
)
from gateway.metering.store import UsageStore
from gateway.request_record import RequestRecord
from gateway.storage.redis_client import RedisClient, connect_redis
from gateway.storage.redis_target import STANDALONE, RedisTopology

__all__ = ["RedisUsageStore"]

_BATCH_MEMORY = 86_400  # seconds a batch marker lives: retries come within seconds
_PAGE = 1000

# KEYS: marker, stream, cell index, then one hash per cell.
# ARGV: marker ttl, stream expiry (ms), rollup expiry (ms), number of cells, number of record fields,
#       the field names, then per cell: its index member and its counters, then per record: its values.
_WRITE = """#!lua
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local cells = tonumber(ARGV[4])
local nfields = tonumber(ARGV[5])
local names = {}
for i = 1, nfields do names[i] = ARGV[5 + i] end
local at = 6 + nfields
local counters = {'requests', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'weighted_cost',
                  'cost_micro_eur', 'audio_seconds', 'energy_micro_wh', 'emissions_micro_g'}
for c = 1, cells do
    local key = KEYS[3 + c]
    redis.call('SADD', KEYS[3], ARGV[at])
    for i = 1, #counters do
        local amount = tonumber(ARGV[at + i])
        if amount ~= 0 then redis.call('HINCRBY', key, counters[i], amount) end
    end
    redis.call('PEXPIREAT', key, ARGV[3])
    at = at + 1 + #counters
end
redis.call('PEXPIREAT', KEYS[3], ARGV[3])
local entry = {}
while at <= #ARGV do
    for i = 1, nfields do
        entry[2 * i - 1] = names[i]
        entry[2 * i] = ARGV[at]
        at = at + 1
    end
    redis.call('XADD', KEYS[2], '*', unpack(entry))
end
redis.call('PEXPIREAT', KEYS[2], ARGV[2])
return 1
"""

_encode_member = msgspec.json.Encoder().encode
_decode_member = msgspec.json.Decoder(tuple[str, str, str]).decode


def _tag(department: str) -> str:
    """The department as it goes between braces: identity's names need no escaping, but a brace or a
    colon would move the hash tag or blur where the name ends."""
    if not any(character in department for character in "%{}:"):
        return department
    return department.replace("%", "%25").replace("{", "%7B").replace("}", "%7D").replace(":", "%3A")


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _value(value: Any) -> str:
    return "" if value is None else str(value)  # str(float) round-trips exactly


def _record(raw: Any) -> RequestRecord:
    fields = {_text(name): _text(value) for name, value in (raw or {}).items()}
    try:
        return RequestRecord(
            time=float(fields["time"]),
            request_id=fields["request_id"],
            department=fields["department"],
            service=fields["service"],
            key_id=fields["key_id"],
            model=fields["model"],
            backend=fields["backend"],
            operation=fields["operation"],
            prompt_tokens=int(fields["prompt_tokens"]),
            completion_tokens=int(fields["completion_tokens"]),
            cached_tokens=int(fields["cached_tokens"]),
            weighted_cost=int(fields["weighted_cost"]),
            cost_eur=float(fields["cost_eur"]),
            latency_ms=float(fields["latency_ms"]),
            status=int(fields["status"]),
            trace_id=fields.get("trace_id") or None,
            audio_seconds=int(fields.get("audio_seconds") or 0),  # absent from older entries
            energy_wh=float(fields.get("energy_wh") or 0),
            emissions_gco2eq=float(fields.get("emissions_gco2eq") or 0),
        )
    except (KeyError, ValueError) as exc:
        raise UsageStoreError(f"malformed usage record in Redis: {exc!r}") from None


def _expiry_ms(period: Period, days: int) -> int:
    """Epoch milliseconds `days` after the end of `period`."""
    end = datetime.fromtimestamp(period.end, period.zone)
    return int((end + timedelta(days=days)).timestamp()) * 1000


@contextlib.contextmanager
def _mapped_errors(action: str) -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise UsageStoreError(f"Redis usage store: cannot {action}: {type(exc).__name__}: {exc}") from exc


class _Share:
    """The records of one batch that belong to one department and month, and their rollups."""

    __slots__ = ("cells", "department", "period", "values")

    def __init__(self, department: str, period: Period) -> None:
        self.department = department
        self.period = period
        self.cells: dict[str, list[int]] = {}
        self.values: list[str] = []

    def add(self, record: RequestRecord, day: str) -> None:
        member = _encode_member((day, record.service, record.model)).decode()
        counters = self.cells.get(member)
        if counters is None:
            counters = self.cells[member] = [0] * len(COUNTERS)
        counters[0] += 1
        counters[1] += record.prompt_tokens
        counters[2] += record.completion_tokens
        counters[3] += record.cached_tokens
        counters[4] += record.weighted_cost
        counters[5] += micro_euros(record.cost_eur)
        counters[6] += record.audio_seconds
        counters[7] += micro_units(record.energy_wh)
        counters[8] += micro_units(record.emissions_gco2eq)
        self.values.extend(_value(value) for value in read_metered(record))


class RedisUsageStore(UsageStore):
    """Usage in Redis. `from_url` builds its own client; the constructor takes one (and closes it)."""

    def __init__(
        self,
        client: RedisClient,
        *,
        prefix: str = "sgw",
        timezone: str = DEFAULT_TIMEZONE,
        records_retention_days: int = 120,
        rollups_retention_days: int = 800,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.calendar = Calendar(timezone)
        self._records_retention = records_retention_days
        self._rollups_retention = rollups_retention_days
        self._write_script = client.register_script(_WRITE)
        self._closed = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        password: str | None = None,
        prefix: str = "sgw",
        timeout: float = 2.0,
        timezone: str = DEFAULT_TIMEZONE,
        records_retention_days: int = 120,
        rollups_retention_days: int = 800,
        topology: RedisTopology = STANDALONE,
    ) -> RedisUsageStore:
        client = connect_redis(
            url, password=password, timeout=timeout, client_name="sovereign-gateway-usage", topology=topology
        )
        return cls(
            client,
            prefix=prefix,
            timezone=timezone,
            records_retention_days=records_retention_days,
            rollups_retention_days=rollups_retention_days,
        )

    def __repr__(self) -> str:
        return f"RedisUsageStore(prefix={self._prefix!r})"

    # -- keys -------------------------------------------------------------------------------------

    def _base(self, department: str, period: Period) -> str:
        return f"{self._prefix}:usage:{{{_tag(department)}}}:{period.name}"

    def _departments(self, period: Period) -> str:
        return f"{self._prefix}:usage:months:{period.name}:departments"

    def _marker(self, department: str, batch_id: str) -> str:
        return f"{self._prefix}:usage:{{{_tag(department)}}}:batch:{batch_id}"

    def _check(self, period: Period) -> None:
        if period.zone.key != self.calendar.zone.key:
            raise InvalidUsageQuery(
                f"this store's days and months are in {self.calendar.zone.key}, not {period.zone.key}",
                "timezone",
            )

    # -- UsageStore -------------------------------------------------------------------------------

    async def write(self, batch_id: str, records: Sequence[RequestRecord]) -> None:
        if not records:
            return
        shares: dict[tuple[str, str], _Share] = {}
        locate = self.calendar.locate
        for record in records:
            period, day = locate(record.time)
            share = shares.get((record.department, period.name))
            if share is None:
                share = shares[(record.department, period.name)] = _Share(record.department, period)
            share.add(record, day)
        with _mapped_errors("write usage"):
            client = self._client
            if isinstance(client, RedisCluster):
                await self._write_on_cluster(client, batch_id, shares.values())
            else:
                await self._write_in_pipeline(client, batch_id, shares.values())

    def _index(self, share: _Share) -> tuple[str, int]:
        """The month's list of departments, and when it expires (with the rollups)."""
        return self._departments(share.period), _expiry_ms(share.period, self._rollups_retention)

    def _script_call(self, batch_id: str, share: _Share) -> tuple[list[str], list[str | int]]:
        """The keys and arguments of the script that writes one share."""
        base = self._base(share.department, share.period)
        keys = [self._marker(share.department, f"{batch_id}:{share.period.name}"), f"{base}:records",
                f"{base}:cells", *(f"{base}:cell:{member}" for member in share.cells)]  # fmt: skip
        args: list[str | int] = [
            _BATCH_MEMORY,
            _expiry_ms(share.period, self._records_retention),
            _expiry_ms(share.period, self._rollups_retention),
            len(share.cells),
            len(METERED_FIELDS),
            *METERED_FIELDS,
        ]
        for member, counters in share.cells.items():
            args.append(member)
            args.extend(counters)
        args.extend(share.values)
        return keys, args

    async def _write_in_pipeline(self, client: redis.Redis, batch_id: str, shares: Iterable[_Share]) -> None:
        """One round trip; redis-py loads the script before the pipeline if the server lacks it."""
        async with client.pipeline(transaction=False) as pipe:
            for share in shares:
                # First: an entry here without data is harmless, data without it would be unlisted.
                index, expires = self._index(share)
                pipe.sadd(index, share.department)
                pipe.pexpireat(index, expires)
                keys, args = self._script_call(batch_id, share)
                await self._write_script(keys=keys, args=args, client=pipe)
            await pipe.execute()

    async def _write_on_cluster(self, client: RedisCluster, batch_id: str, shares: Iterable[_Share]) -> None:
        """redis-py refuses EVALSHA in a Cluster pipeline (it could not load a script a node lacks), so
        the departments' index goes first, in one pipeline the client splits by node, then each share
        is its own script call, all at once, each sent to its department's node (which gets the
        script loaded if it answers NOSCRIPT). Every call runs to its end before the first error, if
        any, is raised: the batch is retried whole, and the markers skip the shares already written."""
        shares = list(shares)
        async with client.pipeline(transaction=False) as pipe:
            for share in shares:
                index, expires = self._index(share)
                pipe.sadd(index, share.department)
                pipe.pexpireat(index, expires)
            await pipe.execute()
        calls = [self._script_call(batch_id, share) for share in shares]
        outcomes = await asyncio.gather(
            *(self._write_script(keys=keys, args=args) for keys, args in calls), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def cells(self, period: Period, department: str | None = None) -> list[UsageCell]:
        self._check(period)
        with _mapped_errors("read usage"):
            if department is None:
                departments = sorted(map(_text, await self._client.smembers(self._departments(period))))
            else:
                departments = [department]
            found: list[UsageCell] = []
            for name in departments:
                base = self._base(name, period)
                members = sorted(map(_text, await self._client.smembers(f"{base}:cells")))
                if not members:
                    continue
                async with self._client.pipeline(transaction=False) as pipe:
                    for member in members:
                        pipe.hgetall(f"{base}:cell:{member}")
                    sums: list[dict[Any, Any]] = await pipe.execute()
                for member, counters in zip(members, sums, strict=True):
                    try:
                        day, service, model = _decode_member(member)
                        found.append(
                            UsageCell(
                                department=name,
                                service=service,
                                model=model,
                                day=day,
                                **{counter: int(counters.get(counter, 0)) for counter in COUNTERS},
                            )
                        )
                    except (msgspec.DecodeError, ValueError) as exc:
                        raise UsageStoreError(f"malformed usage rollup {base}:cell:{member}: {exc}") from None
        return found

    async def records(self, period: Period, department: str | None = None) -> AsyncIterator[RequestRecord]:
        self._check(period)
        with _mapped_errors("read usage records"):
            if department is None:
                departments = sorted(map(_text, await self._client.smembers(self._departments(period))))
            else:
                departments = [department]
        for name in departments:
            stream = f"{self._base(name, period)}:records"
            start = "-"
            while True:
                with _mapped_errors("read usage records"):
                    entries = await self._client.xrange(stream, min=start, max="+", count=_PAGE) or []
                for _, fields in entries:
                    yield _record(fields)
                if len(entries) < _PAGE:
                    break
                start = f"({_text(entries[-1][0])}"

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()
