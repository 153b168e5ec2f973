"""The usage recorder: `record()` on the request path, batched writes to the store behind it.

`record(usage)` appends to an in-memory buffer and returns: no I/O, no await, about a microsecond. A
background task (the flusher) writes the buffer to the store in batches, every `flush_interval`
seconds or as soon as `batch_size` records wait, whichever comes first.

When the store fails, the flusher keeps the batch it was writing and retries it (same batch id, so a
write that succeeded without an answer is not counted twice), backing off up to `max_retry_delay`,
while new records keep accumulating. Memory is bounded: beyond `max_buffered` records (the batch
being retried included) new records are dropped, counted in `stats().dropped` and logged (an error
at the first, then a summary at most every ten seconds). Once the store is back, the backlog is
written in full batches, oldest first.

What can be lost:
- a clean shutdown (`close()`) loses nothing: it writes everything still buffered, retrying up to
  `close_timeout` seconds if the store is failing, and logs (and counts) what it could not write;
- a crash (kill -9, power cut, OOM killer) loses the buffer: the records of the last
  `flush_interval` seconds (0.5 s by default), or all of a backlog accumulated while the store was
  down;
- a store outage longer than the buffer lasts (`max_buffered` records) drops the excess, counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Callable

import msgspec

from gateway.metering.errors import UsageStoreError
from gateway.metering.records import check_record
from gateway.metering.store import UsageStore
from gateway.request_record import RequestRecord

__all__ = ["RecorderStats", "UsageRecorder"]

logger = logging.getLogger("gateway.metering")

_DROP_LOG_INTERVAL = 10.0
_FAILURE_LOG_INTERVAL = 10.0


class RecorderStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counters for metrics and health checks; all since the recorder was created."""

    buffered: int
    """Records in memory, not yet written (the batch being retried included)."""
    written: int
    """Records the store acknowledged."""
    dropped: int
    """Records lost: the buffer was full, or `close()` could not write them before its deadline."""
    failed_writes: int
    """Write attempts that failed (each retried, unless dropped at close)."""
    store_available: bool
    """False from a failed write until the next successful one."""


class UsageRecorder:
    """Buffers usage records and writes them to a `UsageStore` in the background.

    `record()` must be called on the event loop's thread (the pipeline does). Call `await start()`
    once on the loop that will record, and `await close()` at shutdown, after the server stopped
    taking requests.
    """

    def __init__(
        self,
        store: UsageStore,
        *,
        flush_interval: float = 0.5,
        batch_size: int = 1000,
        max_buffered: int = 100_000,
        close_timeout: float = 10.0,
        max_retry_delay: float = 5.0,
        owns_store: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if batch_size < 1 or max_buffered < batch_size:
            raise ValueError("need 1 <= batch_size <= max_buffered")
        self.store = store
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._max_buffered = max_buffered
        self._close_timeout = close_timeout
        self._max_retry_delay = max_retry_delay
        self._owns_store = owns_store
        self._clock = clock
        self._pending: list[RequestRecord] = []
        self._inflight: tuple[str, list[RequestRecord]] | None = None
        self._inflight_count = 0
        self._batch_ids = itertools.count(1)
        self._batch_prefix = f"{os.getpid()}-{os.urandom(6).hex()}"
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._closed = False
        self._written = 0
        self._dropped = 0
        self._dropped_unlogged = 0
        self._drop_logged_at = -_DROP_LOG_INTERVAL
        self._failed_writes = 0
        self._failing_since: float | None = None
        self._failure_logged_at = -_FAILURE_LOG_INTERVAL

    # -- the request path ---------------------------------------------------------------------------

    def record(self, usage: RequestRecord) -> None:
        """Buffer one record for writing. Never blocks, never raises: a full buffer drops it (counted)."""
        pending = self._pending
        if len(pending) + self._inflight_count >= self._max_buffered or self._closed:
            self._drop(1, "the buffer is full" if not self._closed else "the recorder is closed")
            return
        pending.append(usage)
        if len(pending) >= self._batch_size:
            self._wake.set()

    def _drop(self, count: int, reason: str) -> None:
        self._dropped += count
        self._dropped_unlogged += count
        now = self._clock()
        if now - self._drop_logged_at >= _DROP_LOG_INTERVAL:
            logger.error(
                "usage records dropped (%s): %d since the last report, %d in all; "
                "the usage store is failing or too slow",
                reason,
                self._dropped_unlogged,
                self._dropped,
            )
            self._drop_logged_at = now
            self._dropped_unlogged = 0

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the flusher on the running loop. Idempotent."""
        if self._closed:
            raise RuntimeError("the usage recorder is closed")
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_forever(), name="gateway-usage-flusher")

    def stats(self) -> RecorderStats:
        return RecorderStats(
            buffered=len(self._pending) + self._inflight_count,
            written=self._written,
            dropped=self._dropped,
            failed_writes=self._failed_writes,
            store_available=self._failing_since is None,
        )

    async def flush(self) -> None:
        """Write everything buffered now. Raises `UsageStoreError` if the store fails; what could not
        be written stays buffered for the flusher (or the next `flush`)."""
        async with self._lock:
            await self._drain()

    async def close(self) -> None:
        """Stop the flusher and write everything still buffered, retrying for up to `close_timeout`
        seconds; what is left after that is logged and counted as dropped. Closes the store if the
        recorder owns it. Idempotent."""
        if self._closed:
            return
        deadline = self._clock() + self._close_timeout
        if self._flusher is not None:
            # Asked to stop rather than cancelled: on Python 3.11, redis-py's writes go through
            # asyncio.wait_for, which can swallow a cancellation that arrives as the write completes.
            self._stopping.set()
            self._wake.set()
            done, _ = await asyncio.wait({self._flusher}, timeout=self._close_timeout)
            if not done:
                self._flusher.cancel()  # stuck in a write: the batch stays in flight, written below
                await asyncio.wait({self._flusher}, timeout=1.0)
            self._flusher = None
        delay = 0.05
        while self._pending or self._inflight is not None:
            try:
                async with asyncio.timeout(max(0.0, deadline - self._clock())):
                    await self.flush()
            except (UsageStoreError, TimeoutError) as exc:
                if self._clock() + delay >= deadline:
                    lost = len(self._pending) + self._inflight_count
                    self._pending, self._inflight, self._inflight_count = [], None, 0
                    self._dropped += lost
                    logger.error(
                        "usage store unavailable at shutdown: %d usage records lost (%s)",
                        lost,
                        exc or "timeout",
                    )
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        if self._dropped_unlogged:
            logger.error("usage records dropped since the last report: %d (%d in all)", self._dropped_unlogged,
                         self._dropped)  # fmt: skip
            self._dropped_unlogged = 0
        self._closed = True
        if self._owns_store:
            await self.store.close()

    # -- the flusher ------------------------------------------------------------------------------

    async def _drain(self) -> None:
        """Write the batch being retried, then the buffer, batch after batch. Call under `_lock`."""
        while True:
            if self._inflight is None:
                if not self._pending:
                    return
                if len(self._pending) <= self._batch_size:
                    batch, self._pending = self._pending, []
                else:
                    batch = self._pending[: self._batch_size]
                    del self._pending[: self._batch_size]
                batch = self._checked(batch)
                if not batch:
                    continue
                self._inflight = (f"{self._batch_prefix}-{next(self._batch_ids)}", batch)
                self._inflight_count = len(batch)
            batch_id, batch = self._inflight
            try:
                await self.store.write(batch_id, batch)
            except UsageStoreError as exc:
                self._failed(exc)
                raise
            except asyncio.CancelledError:
                raise  # the batch stays in flight: writing it again is safe
            except Exception:
                # Not a store failure but a record the store cannot take: retrying would block every
                # later record behind it.
                logger.exception("usage batch of %d records refused, dropped", len(batch))
                self._inflight, self._inflight_count = None, 0
                self._dropped += len(batch)
                continue
            self._inflight, self._inflight_count = None, 0
            self._written += len(batch)
            if self._failing_since is not None:
                logger.warning(
                    "usage store available again after %.1f s; writing the backlog (%d records)",
                    self._clock() - self._failing_since,
                    len(self._pending),
                )
                self._failing_since = None

    def _checked(self, batch: list[RequestRecord]) -> list[RequestRecord]:
        """`batch` without the records no store could take (a bug upstream), which are dropped."""
        problems = [(record, problem) for record in batch if (problem := check_record(record)) is not None]
        if not problems:
            return batch
        record, problem = problems[0]
        logger.error(
            "%d malformed usage records dropped; the first, request %r: %s",
            len(problems),
            getattr(record, "request_id", "?"),
            problem,
        )
        self._dropped += len(problems)
        refused = {id(record) for record, _ in problems}
        return [record for record in batch if id(record) not in refused]

    def _failed(self, exc: UsageStoreError) -> None:
        self._failed_writes += 1
        now = self._clock()
        if self._failing_since is None:
            self._failing_since = now
        if now - self._failure_logged_at >= _FAILURE_LOG_INTERVAL:
            logger.warning(
                "cannot write usage (%s); retrying, %d records buffered (at most %d kept)",
                exc,
                len(self._pending) + self._inflight_count,
                self._max_buffered,
            )
            self._failure_logged_at = now

    async def _pause(self, seconds: float, event: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()

    async def _flush_forever(self) -> None:
        delay = self._flush_interval
        while not self._stopping.is_set():
            if self._failing_since is None:
                await self._pause(self._flush_interval, self._wake)
            else:
                # Backing off: a full batch waiting must not turn retries into a busy loop.
                await self._pause(delay, self._stopping)
            if self._stopping.is_set():
                return  # `close()` writes what is left
            self._wake.clear()
            try:
                await self.flush()
            except UsageStoreError:
                delay = min(max(delay * 2, 0.05), self._max_retry_delay)
            except Exception:
                logger.exception("the usage flusher failed; retrying")
                delay = self._max_retry_delay
                self._failing_since = self._failing_since or self._clock()
            else:
                delay = self._flush_interval
