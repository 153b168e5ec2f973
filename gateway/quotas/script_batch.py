"""Lua script calls made in the same event-loop iteration, sent to Redis together in one pipeline.

Every request served with quotas runs one script to reserve and one to settle or release. Sent one by
one, each call pays redis-py's whole per-command cost (a pooled connection taken and given back, a
write, a wake-up for the reply); calls that travel together in one pipeline share it, and under load
most of that CPU goes away (32 calls in one pipeline cost a third of 32 separate calls).

- The first call queued creates the flush task. asyncio schedules a new task's first step with
  `loop.call_soon`, so it runs in the next loop iteration: every call queued until then joins the
  batch, and a lone call waits one iteration, no more (a `call_soon` callback that then created the
  task would cost a second one).
  At most `max_batch` calls go in one pipeline; the rest are left for the next flush, started at once.
- The pipeline is not a transaction: a script's error (a key of the wrong type) is its caller's only,
  and the other calls of the batch get their replies. Scripts go in as plain EVALSHA commands, written
  at once on one pooled connection (`_round_trip`); redis-py's pipeline would ask SCRIPT EXISTS
  before every execution for `Script` objects, one more round trip.
- NOSCRIPT (a restarted or flushed Redis, a failover to a replica that never saw the script): the
  scripts are loaded and the calls that lacked them sent again once, in one more pipeline.
- A failure of the whole pipeline (Redis down, a timeout) reaches every caller of the batch as the
  exception redis-py raises for a single command, each caller with its own copy.
- A caller cancelled while it waits gives up its own reply only; a call cancelled before its batch
  leaves is not sent at all.
- A deferrable call (a settlement or a release: nobody waits for it but a background task) starts
  no flush of its own: it rides with the next call that does (the next request's reservation), or
  leaves after `DEFER_SECONDS`; when no reservation went out lately, it leaves at once. One request
  at a time then costs one round trip, not two; the queue keeps its order, so a settlement still
  reaches Redis before the reservation queued after it (a service at its concurrency limit gets
  its slot back first).

Redis Cluster is not for this: the calls of one batch would belong to several nodes.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import hashlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

__all__ = ["MAX_BATCH", "BatchedScript", "ScriptBatcher"]

MAX_BATCH = 128
"""Calls per pipeline. Beyond a few dozen the saving per call hardly grows, while one huge write and
its replies would hold a connection (and the server) for longer."""

DEFER_SECONDS = 0.025
"""Longest wait of a deferrable call for a batch to ride with."""

_IDLE_SECONDS = 4 * DEFER_SECONDS
"""A deferrable call is sent at once when no prompt call came for this long."""

CLOSE_TIMEOUT = 1.0
"""Seconds `aclose` lets the batches already sent finish before it abandons them."""

HELD_CONNECTIONS = 2
"""Connections the batcher keeps between round trips instead of giving them back to the pool (at most
a quarter of the pool): taking one from redis-py's pool and giving it back cost a quarter of a lone
round trip's CPU. Two cover one batch in flight while the next is written."""


class BatchedScript:
    """One Lua script run through a batcher, called like redis-py's own `AsyncScript`:
    `await script(keys=[...], args=[...])`."""

    __slots__ = ("_batcher", "sha", "source")

    def __init__(self, batcher: ScriptBatcher, source: str) -> None:
        self._batcher = batcher
        self.source = source
        # What Redis names the script by (SHA-1 of its text), as SCRIPT LOAD answers it.
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def __call__(
        self, keys: Sequence[str], args: Sequence[str | int], *, deferrable: bool = False
    ) -> asyncio.Future[Any]:
        return self._batcher.submit(self, keys, args, deferrable=deferrable)


class _Call:
    """A queued call and the future its caller awaits."""

    __slots__ = ("args", "future", "keys", "script")

    def __init__(
        self,
        script: BatchedScript,
        keys: Sequence[str],
        args: Sequence[str | int],
        future: asyncio.Future[Any],
    ) -> None:
        self.script = script
        self.keys = keys
        self.args = args
        self.future = future


class ScriptBatcher:
    """Runs the scripts made by `script()` on `client` (standalone or Sentinel), batching the calls of
    each loop iteration. `pipelines_sent` and `calls_sent` count what went to Redis (NOSCRIPT retries
    included), for tests and measurements."""

    def __init__(
        self, client: redis.Redis, *, max_batch: int = MAX_BATCH, close_timeout: float = CLOSE_TIMEOUT
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._client = client
        self._max_batch = max_batch
        self._close_timeout = close_timeout
        self._queue: list[_Call] = []
        self._flush_started = False
        """True from the call that creates a flush task until that task takes the queue."""
        self._flushes: set[asyncio.Task[None]] = set()
        self._deferred_flush: asyncio.TimerHandle | None = None
        self._last_prompt_call = float("-inf")
        self._closed = False
        self._held: list[AbstractConnection] = []
        pool_size = getattr(client.connection_pool, "max_connections", 0)
        self._hold = min(HELD_CONNECTIONS, pool_size // 4)
        self.pipelines_sent = 0
        self.calls_sent = 0

    def script(self, source: str) -> BatchedScript:
        return BatchedScript(self, source)

    def submit(
        self,
        script: BatchedScript,
        keys: Sequence[str],
        args: Sequence[str | int],
        *,
        deferrable: bool = False,
    ) -> asyncio.Future[Any]:
        """Queue one call; the future holds its reply, or the error one command would have raised."""
        if self._closed:
            raise RedisConnectionError("the script batcher is closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append(_Call(script, keys, args, future))
        now = loop.time()
        if not deferrable:
            self._last_prompt_call = now
        if self._flush_started:
            pass  # it joins the batch about to leave
        elif not deferrable or now - self._last_prompt_call > _IDLE_SECONDS:
            # Without reservations going out, nothing would come to carry a deferred call: a replay
            # of settlements, one after another, would wait DEFER_SECONDS each.
            self._start_flush(loop)
        elif self._deferred_flush is None:
            self._deferred_flush = loop.call_later(DEFER_SECONDS, self._flush_deferred, loop)
        return future

    def _flush_deferred(self, loop: asyncio.AbstractEventLoop) -> None:
        self._deferred_flush = None
        if self._queue and not self._flush_started:
            self._start_flush(loop)

    def _start_flush(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._deferred_flush is not None:
            # This flush takes the deferred calls along.
            self._deferred_flush.cancel()
            self._deferred_flush = None
        self._flush_started = True
        # An empty context: the batch is no one request's, so it must not carry the first caller's
        # context variables (its trace span, say) into the pipeline.
        task = loop.create_task(self._flush(), context=contextvars.Context())
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush(self) -> None:
        # The task's first step, one loop iteration after the call that created it: it takes what has
        # been queued since.
        batch = self._queue[: self._max_batch]
        del self._queue[: self._max_batch]
        if self._queue:
            self._start_flush(asyncio.get_running_loop())
        else:
            self._flush_started = False
        # Callers cancelled meanwhile: nothing to send for them.
        batch = [call for call in batch if not call.future.done()]
        if batch:
            await self._send(batch)

    async def _send(self, batch: list[_Call]) -> None:
        try:
            replies = await self._pipeline(batch, ())
            lacking = _deliver(batch, replies)
            if lacking:
                scripts = list({call.script.sha: call.script for call in lacking}.values())
                _deliver(lacking, await self._pipeline(lacking, scripts), retried=True)
        except asyncio.CancelledError:
            # Only `aclose` cancels a flush.
            _fail(batch, RedisConnectionError("the script batcher closed while the call was in flight"))
            raise
        except Exception as exc:  # what the pipeline raised: the error one command would have raised
            _fail(batch, exc)

    async def _pipeline(self, calls: list[_Call], loading: Sequence[BatchedScript]) -> list[Any]:
        """One round trip: SCRIPT LOAD for each of `loading`, then the calls. The replies of the calls,
        an error reply as its exception."""
        commands: list[tuple[str | int, ...]] = [("SCRIPT", "LOAD", script.source) for script in loading]
        commands += [("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args) for call in calls]
        self.pipelines_sent += 1
        self.calls_sent += len(calls)
        replies = await self._round_trip(commands)
        return replies[len(loading) :]

    async def _round_trip(self, commands: list[tuple[str | int, ...]]) -> list[Any]:
        """The commands written at once on one pooled connection, and their replies read in order.

        redis-py's Pipeline does the same with more machinery per call (a command stack, a shielded
        reset, response callbacks): a third of the batch's CPU at one request at a time. The retry is
        the connection's own (`gateway.storage.redis_client._retry`, the stores' policy): a connection
        or timeout error closes the connection and the batch goes again on a fresh one (every script call is
        idempotent: a reservation or a settlement sent twice counts once). The connection is one the
        batcher holds when it has one; a connection that served a whole exchange is held again (its
        replies all read), any other goes back to the pool, closed."""
        pool = self._client.connection_pool
        if self._held:
            connection = self._held.pop()
        else:
            connection = await pool.get_connection()  # type: ignore[no-untyped-call]

        async def exchange() -> list[Any]:
            await connection.send_packed_command(connection.pack_commands(commands))
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await connection.read_response())
                except ResponseError as exc:  # this command's error; the next replies still follow
                    replies.append(exc)
            return replies

        async def drop_connection(error: Exception) -> None:
            await connection.disconnect()

        whole = False
        try:
            replies: list[Any] = await connection.retry.call_with_retry(exchange, drop_connection)
            whole = True
            return replies
        except BaseException:
            # Replies may be left unread (an error not retried, a cancellation mid-read): the
            # connection must not be reused as it is.
            await connection.disconnect()
            raise
        finally:
            if whole and not self._closed and len(self._held) < self._hold:
                self._held.append(connection)
            else:
                await pool.release(connection)

    async def aclose(self) -> None:
        """Refuse new calls; let the batches under way finish (within `close_timeout`), then abandon
        them: their callers get a ConnectionError. No task nor future is left pending."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        if self._queue and not self._flush_started:
            self._start_flush(loop)  # deferred calls (settlements) leave now, not never
        deadline = loop.time() + self._close_timeout
        # A flush may start another (a batch beyond max_batch): wait again until none is left.
        while self._flushes and (left := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._flushes), timeout=left)
        abandoned = set(self._flushes)
        for task in abandoned:
            task.cancel()
        if abandoned:
            await asyncio.wait(abandoned)
        # Calls whose flush was cancelled before its first step are still queued.
        _fail(self._queue, RedisConnectionError("the script batcher closed before the call was sent"))
        self._queue.clear()
        self._flush_started = False
        held, self._held = self._held, []
        for connection in held:
            await self._client.connection_pool.release(connection)


def _deliver(calls: list[_Call], replies: list[Any], *, retried: bool = False) -> list[_Call]:
    """Give each caller its reply; returns the calls that met NOSCRIPT, unanswered (unless `retried`)."""
    lacking = []
    for call, reply in zip(calls, replies, strict=True):
        if call.future.done():  # its caller was cancelled: the reply is dropped
            continue
        if isinstance(reply, NoScriptError) and not retried:
            lacking.append(call)
        elif isinstance(reply, Exception):
            call.future.set_exception(reply)
        else:
            call.future.set_result(reply)
    return lacking


def _fail(calls: list[_Call], error: Exception) -> None:
    for call in calls:
        if not call.future.done():
            call.future.set_exception(_own_copy(error))


def _own_copy(error: Exception) -> Exception:
    """A copy of a whole batch's failure for one of its callers. One exception object raised in several
    tasks would gather every task's frames in its traceback, and each task's context in turn."""
    try:
        copied = copy.copy(error)
    except Exception:  # an exception class that cannot be rebuilt from its arguments
        return error
    copied.__cause__ = error.__cause__
    copied.__context__ = error.__context__
    copied.__suppress_context__ = error.__suppress_context__
    return copied.with_traceback(error.__traceback__)
