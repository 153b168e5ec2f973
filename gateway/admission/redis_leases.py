"""The leases on the backends' capacity, in Redis: one hash per backend, renewed by a Lua script."""

from __future__ import annotations

from redis.exceptions import RedisError

from gateway.admission.leases import LeaseStoreError
from gateway.storage.redis_client import RedisClient

__all__ = ["RedisLeases"]

# KEYS[1]: the backend's hash of leases, process id -> `demand:held:expiry (ms)`.
# ARGV: this process's id, its demand, what it has in flight there, the share it wants, the backend's
# capacity, the lease's TTL (ms). It is granted what it wants within what the other live leases do
# not hold, and holds the larger of that and what it still has in flight: run atomically, one process
# at a time, this keeps the held amounts' sum within the capacity. Redis's own clock dates every
# lease, so the replicas' clocks need not agree. Returns the grant, then every live lease's id and
# demand (its own included).
_EXCHANGE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local me, demand, in_use = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local wanted, capacity, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local entries = redis.call('HGETALL', KEYS[1])
local others = 0
local live = {}
for i = 1, #entries, 2 do
  local id, value = entries[i], entries[i + 1]
  local first = string.find(value, ':', 1, true)
  local second = first and string.find(value, ':', first + 1, true)
  if second == nil or tonumber(string.sub(value, second + 1)) < now_ms then
    redis.call('HDEL', KEYS[1], id)
  elseif id ~= me then
    others = others + tonumber(string.sub(value, first + 1, second - 1))
    table.insert(live, id)
    table.insert(live, string.sub(value, 1, first - 1))
  end
end
local granted = math.max(0, math.min(wanted, capacity - others))
local held = math.max(granted, in_use)
redis.call('HSET', KEYS[1], me, demand .. ':' .. held .. ':' .. (now_ms + ttl))
redis.call('PEXPIRE', KEYS[1], ttl * 2)
table.insert(live, me)
table.insert(live, tostring(demand))
table.insert(live, 1, granted)
return live
"""


class RedisLeases:
    """`<prefix>:adm:<backend URL>`: a hash of process id -> `demand:held:expiry (ms)`."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._client = client
        self._prefix = f"{prefix}:adm:"
        self._script = client.register_script(_EXCHANGE)

    async def exchange(
        self, backend: str, process: str, *, demand: int, in_use: int, wanted: int, capacity: int, ttl_ms: int
    ) -> tuple[int, dict[str, int]]:
        try:
            answer = await self._script(
                keys=[self._prefix + backend], args=[process, demand, in_use, wanted, capacity, ttl_ms]
            )
        except (RedisError, OSError) as exc:
            raise LeaseStoreError(str(exc)) from exc
        live = answer[1:]
        return int(answer[0]), {str(live[i]): int(live[i + 1]) for i in range(0, len(live), 2)}

    async def drop(self, backend: str, process: str) -> None:
        try:
            await self._client.hdel(self._prefix + backend, process)
        except (RedisError, OSError) as exc:
            raise LeaseStoreError(str(exc)) from exc

    async def close(self) -> None:
        await self._client.aclose()
