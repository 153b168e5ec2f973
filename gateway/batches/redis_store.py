"""Files' and batches' records in Redis, and each batch's work queue a Redis stream read through a
consumer group: every replica takes lines from it, and XAUTOCLAIM hands a crashed replica's lines
(pending, unacknowledged for `claim_after` seconds) to another.

Keys (`<p>` the store's prefix; a batch's own keys share the hash tag `{<batch id>}`, so that its
scripts touch one Cluster slot):

    <p>:file:<id>                   the file's record (JSON)
    <p>:files:<department>          its files' ids, scored by creation time
    <p>:batch:<id>                  hash: `status`, `record` (JSON)
    <p>:batches:<department>        its batches' ids, scored by creation time
    <p>:batches:active              the ids of the batches with work left
    <p>:bq:{<id>}:lines             the stream: one entry per line (`n`, `c`, `b`: number, custom_id, body)
    <p>:bq:{<id>}:results           custom_id -> "<number> <0|1> <result line>", written once
    <p>:bq:{<id>}:counts            hash: completed, failed
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError, ResponseError

from gateway.batches.errors import BatchStoreUnavailable
from gateway.batches.records import (
    ACTIVE_STATUSES,
    BatchRecord,
    FileRecord,
    batch_decoder,
    encode,
    file_decoder,
)
from gateway.batches.store import LineResult, WorkItem
from gateway.batches.validation import InputLine
from gateway.storage.redis_client import RedisClient, connect_redis
from gateway.storage.redis_target import STANDALONE, RedisTopology

__all__ = ["RedisBatchStore"]

_GROUP = "runners"
_ENQUEUE_CHUNK = 500
_ALL = "*"  # the department key of every department's listing

# Status compare-and-set: the record is written only while its status is one of those expected.
_REPLACE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
for i = 3, #ARGV do
  if status == ARGV[i] then
    redis.call('HSET', KEYS[1], 'status', ARGV[1], 'record', ARGV[2])
    return 1
  end
end
return 0
"""
# A line's result, its count and its acknowledgement at once: whatever runs it again finds it done.
_FINISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local added = redis.call('HSETNX', KEYS[2], ARGV[3], ARGV[4])
if added == 1 then redis.call('HINCRBY', KEYS[3], ARGV[5], 1) end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return added
"""
# A taken line back to the queue: acknowledged and added again, as a new entry, at the end.
_GIVE_BACK = """
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[1], '*', 'n', ARGV[3], 'c', ARGV[4], 'b', ARGV[5])
return 1
"""


def _failing(exc: Exception) -> BatchStoreUnavailable:
    error = BatchStoreUnavailable()
    error.__cause__ = exc
    return error


class RedisBatchStore:
    __slots__ = ("_client", "_prefix")

    def __init__(self, client: RedisClient, *, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        password: str | None = None,
        prefix: str = "sgw",
        timeout: float = 2.0,
        topology: RedisTopology = STANDALONE,
    ) -> RedisBatchStore:
        client = connect_redis(
            url,
            password=password,
            timeout=timeout,
            client_name="sovereign-gateway-batches",
            max_connections=32,
            topology=topology,
        )
        return cls(client, prefix=prefix)

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, *command: Any) -> Any:
        try:
            return await self._client.execute_command(*command)
        except (RedisError, OSError) as exc:
            raise _failing(exc) from exc

    async def _script(self, script: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await self._client.eval(script, len(keys), *keys, *args)
        except (RedisError, OSError) as exc:
            raise _failing(exc) from exc

    # -- keys ------------------------------------------------------------------------------------

    def _file(self, file_id: str) -> str:
        return f"{self._prefix}:file:{file_id}"

    def _files(self, department: str) -> str:
        return f"{self._prefix}:files:{department}"

    def _batch(self, batch_id: str) -> str:
        return f"{self._prefix}:batch:{batch_id}"

    def _batches(self, department: str) -> str:
        return f"{self._prefix}:batches:{department}"

    def _active(self) -> str:
        return f"{self._prefix}:batches:active"

    def _queue(self, batch_id: str, part: str) -> str:
        return f"{self._prefix}:bq:{{{batch_id}}}:{part}"

    # -- files -----------------------------------------------------------------------------------

    async def add_file(self, record: FileRecord) -> None:
        await self._call("SET", self._file(record.id), encode(record))
        for department in (record.owner.department, _ALL):
            await self._call("ZADD", self._files(department), record.created_at, record.id)

    async def file(self, file_id: str) -> FileRecord | None:
        raw = await self._call("GET", self._file(file_id))
        return file_decoder.decode(raw) if raw is not None else None

    async def files(self, department: str | None) -> list[FileRecord]:
        ids = await self._call("ZREVRANGE", self._files(department or _ALL), 0, -1)
        records = []
        for file_id in ids:
            record = await self.file(file_id)
            if record is not None:
                records.append(record)
        return records

    async def delete_file(self, file_id: str) -> bool:
        record = await self.file(file_id)
        if record is None:
            return False
        await self._call("DEL", self._file(file_id))
        for department in (record.owner.department, _ALL):
            await self._call("ZREM", self._files(department), file_id)
        return True

    # -- batches ---------------------------------------------------------------------------------

    async def add_batch(self, record: BatchRecord) -> None:
        await self._call("HSET", self._batch(record.id), "status", record.status, "record", encode(record))
        for department in (record.owner.department, _ALL):
            await self._call("ZADD", self._batches(department), record.created_at, record.id)
        await self._call("SADD", self._active(), record.id)

    async def batch(self, batch_id: str) -> BatchRecord | None:
        raw = await self._call("HGET", self._batch(batch_id), "record")
        return batch_decoder.decode(raw) if raw is not None else None

    async def batches(self, department: str | None) -> list[BatchRecord]:
        ids = await self._call("ZREVRANGE", self._batches(department or _ALL), 0, -1)
        return await self._records(ids)

    async def _records(self, ids: Sequence[str]) -> list[BatchRecord]:
        records = []
        for batch_id in ids:
            record = await self.batch(batch_id)
            if record is not None:
                records.append(record)
        return records

    async def active_batches(self) -> list[BatchRecord]:
        ids = sorted(await self._call("SMEMBERS", self._active()))
        records = await self._records(ids)
        ended = [record.id for record in records if record.status not in ACTIVE_STATUSES]
        if ended:
            await self._call("SREM", self._active(), *ended)
        return sorted(
            (record for record in records if record.status in ACTIVE_STATUSES), key=lambda r: r.created_at
        )

    async def replace_batch(self, record: BatchRecord, expected: Sequence[str]) -> bool:
        replaced = await self._script(
            _REPLACE, [self._batch(record.id)], [record.status, encode(record), *expected]
        )
        return bool(replaced)

    # -- work queue ------------------------------------------------------------------------------

    async def enqueue(self, batch_id: str, lines: Sequence[InputLine]) -> None:
        stream = self._queue(batch_id, "lines")
        try:
            await self._client.execute_command("XGROUP", "CREATE", stream, _GROUP, "0", "MKSTREAM")
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise _failing(exc) from exc
        except (RedisError, OSError) as exc:
            raise _failing(exc) from exc
        # Each line's entry id is its number: after a crash, the lines already added are skipped.
        last = await self._call("XREVRANGE", stream, "+", "-", "COUNT", 1)
        added = int(last[0][0].split("-")[0]) if last else 0
        missing = [line for line in lines if line.number > added]
        for start in range(0, len(missing), _ENQUEUE_CHUNK):
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for line in missing[start : start + _ENQUEUE_CHUNK]:
                        pipe.xadd(
                            stream,
                            {"n": line.number, "c": line.custom_id, "b": line.body},
                            id=f"{line.number}-1",
                        )
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                raise _failing(exc) from exc

    @staticmethod
    def _items(entries: Sequence[Any]) -> list[WorkItem]:
        items = []
        for entry_id, fields in entries:
            if not fields:  # an entry deleted while pending (given back): nothing to run
                continue
            items.append(WorkItem(entry_id, int(fields["n"]), fields["c"], fields["b"].encode()))
        return items

    async def take(self, batch_id: str, consumer: str, count: int, claim_after: float) -> list[WorkItem]:
        stream = self._queue(batch_id, "lines")
        try:
            # A crashed replica's lines first: they have waited longest.
            claimed: Any = await self._client.xautoclaim(
                stream, _GROUP, consumer, min_idle_time=int(claim_after * 1000), start_id="0-0", count=count
            )
            items = self._items(claimed[1])
            if len(items) < count:
                read: Any = await self._client.xreadgroup(
                    _GROUP, consumer, {stream: ">"}, count=count - len(items)
                )
                for _, entries in read or ():
                    items.extend(self._items(entries))
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # the batch was finalized and its queue dropped
                return []
            raise _failing(exc) from exc
        except (RedisError, OSError) as exc:
            raise _failing(exc) from exc
        return items

    async def renew(self, batch_id: str, consumer: str, entries: Sequence[str]) -> None:
        if not entries:
            return
        stream = self._queue(batch_id, "lines")
        try:
            await self._client.xclaim(stream, _GROUP, consumer, 0, list(entries), justid=True)
        except ResponseError:
            return  # the queue is gone: nothing left to renew
        except (RedisError, OSError) as exc:
            raise _failing(exc) from exc

    async def give_back(self, batch_id: str, item: WorkItem) -> None:
        await self._script(
            _GIVE_BACK,
            [self._queue(batch_id, "lines")],
            [_GROUP, item.entry, item.number, item.custom_id, item.body],
        )

    async def finish(self, batch_id: str, item: WorkItem, line: bytes, failed: bool) -> bool:
        value = f"{item.number} {int(failed)} ".encode() + line
        added = await self._script(
            _FINISH,
            [
                self._queue(batch_id, "lines"),
                self._queue(batch_id, "results"),
                self._queue(batch_id, "counts"),
            ],
            [_GROUP, item.entry, item.custom_id, value, "failed" if failed else "completed"],
        )
        return bool(added)

    async def counts(self, batch_id: str) -> tuple[int, int]:
        raw = await self._call("HMGET", self._queue(batch_id, "counts"), "completed", "failed")
        return int(raw[0] or 0), int(raw[1] or 0)

    async def results(self, batch_id: str) -> list[LineResult]:
        values = await self._call("HVALS", self._queue(batch_id, "results"))
        results = []
        for value in values:
            number, failed, line = value.split(" ", 2)
            results.append(LineResult(int(number), failed == "1", line.encode()))
        results.sort(key=lambda result: result.number)
        return results

    async def unfinished(self, batch_id: str) -> list[tuple[int, str]]:
        done = set(await self._call("HKEYS", self._queue(batch_id, "results")))
        entries = await self._call("XRANGE", self._queue(batch_id, "lines"), "-", "+")
        left = {
            int(fields["n"]): fields["c"] for _, fields in self._pairs(entries) if fields["c"] not in done
        }
        return sorted(left.items())

    @staticmethod
    def _pairs(entries: Sequence[Any]) -> list[tuple[str, dict[str, str]]]:
        pairs = []
        for entry_id, fields in entries:
            if isinstance(fields, list):  # raw XRANGE reply: a flat list of field, value
                fields = dict(zip(fields[::2], fields[1::2], strict=True))
            pairs.append((entry_id, fields))
        return pairs

    async def drop_work(self, batch_id: str) -> None:
        await self._call(
            "DEL",
            self._queue(batch_id, "lines"),
            self._queue(batch_id, "results"),
            self._queue(batch_id, "counts"),
        )
