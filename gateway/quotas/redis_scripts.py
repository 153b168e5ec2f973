"""The Lua scripts of the Redis ledger: one per reserve, one per settle or release.

Each runs atomically and touches only keys of one department, all under its hash tag `{department}`
(one slot on Redis Cluster): its open-reservation set, the reservation's record, the plan's counters,
and, when sweeping, the counters named in expired records (same slot; Redis Cluster allows a script
to reach keys of the slot its declared keys are in).

Time is Redis's (`TIME`), so every replica agrees on buckets, expiries and periods; tests pass a
clock instead (ARGV[1]). Key lifetimes are set relative to that time (PEXPIRE, not PEXPIREAT). Calendar periods need the time zone, which Lua does not have: the gateway
sends the bounds of the period it planned for, and the reserve script answers -1 with its own time
when that time falls outside; the gateway then plans again for that time (see RedisLedger.reserve).

Keys, for department `d` and prefix `sgw`:

    sgw:q:{d}:open          sorted set: reservation ids not settled nor released, by expiry (ms)
    sgw:q:{d}:r:<id>        hash: s = R reserved | S settled | L released | X expired and given back,
                            and while reserved b = bucket, c = JSON [[counter key, code, amount], ...];
                            kept an hour after its expiry so that a late or repeated settle is
                            recognised (RECORD_KEEP_MS)
    sgw:q:{d}:<counter>     c, e (calendar budget of tokens, of micro-euros): integer, expires a day
                            after its period
                            t, r (rolling minute): hash bucket -> amount, buckets of 5 s
                            x (concurrency): sorted set of reservation ids by expiry
"""

from __future__ import annotations

from gateway.quotas.ledger import COUNTER_GRACE_MS, RECORD_KEEP_MS
from gateway.quotas.periods import BUCKET_MS, WINDOW_BUCKETS

__all__ = ["FINISH", "RESERVE", "SWEEP_BATCH"]

SWEEP_BATCH = 100

_PRELUDE = f"""
local WIDTH = {BUCKET_MS}
local SPAN = {WINDOW_BUCKETS}
local GRACE = {COUNTER_GRACE_MS}
local KEEP = {RECORD_KEEP_MS}
local BATCH = {SWEEP_BATCH}
"""
_PRELUDE += r"""
local function clock(override)
  if override ~= '' then return tonumber(override) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function field(bucket)
  return string.format('%d', bucket)
end

local function undo(key, code, amount, bucket, id)
  if code == 'c' or code == 'e' then
    if redis.call('EXISTS', key) == 1 then redis.call('DECRBY', key, amount) end
  elseif code == 'x' then
    redis.call('ZREM', key, id)
  elseif redis.call('HEXISTS', key, bucket) == 1 then
    redis.call('HINCRBY', key, bucket, -tonumber(amount))
  end
end

-- Give back the expired reservations of this department (at most BATCH of them).
local function sweep(open, records, now)
  local ids = redis.call('ZRANGEBYSCORE', open, '-inf', now, 'LIMIT', 0, BATCH)
  for _, id in ipairs(ids) do
    local record = records .. id
    local saved = redis.call('HMGET', record, 's', 'b', 'c')
    if saved[1] == 'R' then
      for _, c in ipairs(cjson.decode(saved[3])) do undo(c[1], c[2], c[3], saved[2], id) end
      redis.call('HSET', record, 's', 'X')
      redis.call('HDEL', record, 'b', 'c')
    end
    redis.call('ZREM', open, id)
  end
  return #ids
end
"""

RESERVE = (
    _PRELUDE
    + r"""
-- KEYS: 1 open set, 2 the reservation's record, 3.. the plan's counters
-- ARGV: 1 clock ('' = TIME), 2 reservation id, 3 ttl ms, 4 and 5 bounds of the planned periods in ms
--       ('' = none), 6 '1' for a dry run (read only the usage), 7 prefix of record keys,
--       then per counter: code, limit, amount, period end ms
-- Answer: {status, now, bucket, swept, used1, reset1, used2, reset2, ...}; status 1 reserved (or dry
-- run), 0 refused (nothing written), -1 now is outside the planned periods (nothing checked)
local now = clock(ARGV[1])
local swept = sweep(KEYS[1], ARGV[7], now)
if ARGV[5] ~= '' and (now < tonumber(ARGV[4]) or now >= tonumber(ARGV[5])) then
  return {-1, now, 0, swept}
end
local bucket = math.floor(now / WIDTH)
local oldest = bucket - SPAN
local id = ARGV[2]
local dry = ARGV[6] == '1'
-- The same id again: a retry of a reservation whose answer was lost. Report it, do not repeat it.
local repeated = (not dry) and redis.call('EXISTS', KEYS[2]) == 1
local out = {1, now, bucket, swept}
local refused = false
local n = #KEYS - 2
for i = 1, n do
  local key = KEYS[i + 2]
  local a = 8 + (i - 1) * 4
  local code, limit, amount = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local used, reset = 0, 0
  if code == 'c' or code == 'e' then
    used = tonumber(redis.call('GET', key) or '0')
    reset = tonumber(ARGV[a + 3]) - now
  elseif code == 'x' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    used = redis.call('ZCARD', key)
    reset = 1000
  else
    local flat = redis.call('HGETALL', key)
    local live = {}
    for j = 1, #flat, 2 do
      local b = tonumber(flat[j])
      if b < oldest then
        redis.call('HDEL', key, flat[j])
      else
        local v = tonumber(flat[j + 1])
        used = used + v
        live[#live + 1] = {b, v}
      end
    end
    -- When enough of the usage leaves the window for this request to fit (or, if it fits, when
    -- the oldest usage leaves it); -1: never, the request alone exceeds the limit.
    table.sort(live, function(x, y) return x[1] < y[1] end)
    local need = math.max(1, used + amount - limit)
    local freed = 0
    reset = -1
    for _, bv in ipairs(live) do
      if bv[2] > 0 then
        freed = freed + bv[2]
        if freed >= need then
          reset = (bv[1] + SPAN + 1) * WIDTH - now
          break
        end
      end
    end
    if reset < 0 and freed == 0 and need <= 1 then reset = (bucket + SPAN + 1) * WIDTH - now end
  end
  if used + amount > limit then refused = true end
  out[#out + 1] = used
  out[#out + 1] = reset
end
if dry or repeated then return out end
if refused then
  out[1] = 0
  return out
end
local ttl = tonumber(ARGV[3])
local expires = now + ttl
local saved = {}
for i = 1, n do
  local key = KEYS[i + 2]
  local a = 8 + (i - 1) * 4
  local code, amount = ARGV[a], tonumber(ARGV[a + 2])
  if code == 'c' or code == 'e' then
    redis.call('INCRBY', key, amount)
    redis.call('PEXPIRE', key, tonumber(ARGV[a + 3]) + GRACE - now)
  elseif code == 'x' then
    redis.call('ZADD', key, expires, id)
    redis.call('PEXPIRE', key, ttl + 1000)
  else
    redis.call('HINCRBY', key, field(bucket), amount)
    redis.call('PEXPIRE', key, (SPAN + 2) * WIDTH)
  end
  out[3 + 2 * i] = out[3 + 2 * i] + amount
  -- The amount as sent (a string): cjson would round numbers beyond 14 digits.
  saved[i] = {key, code, ARGV[a + 2]}
end
redis.call('HSET', KEYS[2], 's', 'R', 'b', field(bucket), 'c', cjson.encode(saved))
redis.call('PEXPIRE', KEYS[2], ttl + KEEP)
redis.call('ZADD', KEYS[1], expires, id)
return out
"""
)

FINISH = (
    _PRELUDE
    + r"""
-- KEYS: 1 open set, 2 the reservation's record, 3.. its counters
-- ARGV: 1 clock ('' = TIME), 2 reservation id, 3 actual weighted cost ('' = release), 4 bucket,
--       5 ttl ms, 6 actual micro-euros, then per counter: code, amount reserved, period end ms
-- Answer: {state found}: 1 reserved, 2 expired and given back, 3 unknown, 0 already settled or released
local now = clock(ARGV[1])
local id = ARGV[2]
local state = redis.call('HGET', KEYS[2], 's')
if state == 'S' or state == 'L' then return {0} end
local release = ARGV[3] == ''
local cost = tonumber(ARGV[3])
local eur = tonumber(ARGV[6])
local bucket = ARGV[4]
local n = #KEYS - 2
if state == 'R' then
  for i = 1, n do
    local key = KEYS[i + 2]
    local a = 7 + (i - 1) * 3
    local code, amount = ARGV[a], tonumber(ARGV[a + 1])
    if release then
      undo(key, code, amount, bucket, id)
    elseif code == 'c' then
      if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, cost - amount) end
    elseif code == 'e' then
      if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, eur - amount) end
    elseif code == 't' then
      if redis.call('HEXISTS', key, bucket) == 1 then redis.call('HINCRBY', key, bucket, cost - amount) end
    elseif code == 'x' then
      redis.call('ZREM', key, id)
    end
  end
elseif not release then
  -- Expired and given back (X), or unknown here: the usage happened, so it is charged, once.
  local in_window = tonumber(bucket) >= math.floor(now / WIDTH) - SPAN
  for i = 1, n do
    local key = KEYS[i + 2]
    local a = 7 + (i - 1) * 3
    local code = ARGV[a]
    if code == 'c' or code == 'e' then
      redis.call('INCRBY', key, code == 'c' and cost or eur)
      redis.call('PEXPIRE', key, tonumber(ARGV[a + 2]) + GRACE - now)
    elseif in_window and (code == 't' or code == 'r') then
      redis.call('HINCRBY', key, bucket, code == 't' and cost or 1)
      redis.call('PEXPIRE', key, (SPAN + 2) * WIDTH)
    end
  end
end
redis.call('ZREM', KEYS[1], id)
redis.call('HSET', KEYS[2], 's', release and 'L' or 'S')
redis.call('HDEL', KEYS[2], 'b', 'c')
if not state then redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]) + KEEP) end
if state == 'R' then return {1} elseif state == 'X' then return {2} else return {3} end
"""
)
