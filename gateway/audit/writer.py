"""The audit log: `write()` on the request path, a writer thread behind it.

`write(record)` appends the request's `RequestRecord` to an in-memory queue and returns: no I/O, no
formatting, no encoding, no lock but the GIL's. A thread of its own (not a task on the event loop:
file writes, `fsync` and renames block, and would stall every request of the worker) wakes every
`flush_interval` seconds, or as soon as `batch_size` records wait, turns the records into their
lines (`audit_line`), encodes them, chains them, and appends them to the file in large writes.

Why a full queue drops rather than blocks: `write()` runs on the event loop, so waiting for the disk
there, or writing synchronously, would stop every request of the worker for as long as the disk is
slow: an audit problem would become an outage. Beyond `max_buffered` records, new ones are dropped,
counted (`stats().dropped`) and logged as errors (at the first, then a summary at most every ten
seconds). Dropped records never enter the chain, so `verify` cannot see them: the log's errors and
the counter are the trace they leave.

What can be lost:
- a clean shutdown (`close()`) loses nothing: everything queued is written, retrying for up to
  `close_timeout` seconds if the disk fails (then what is left is logged and counted);
- a crash loses what was queued, at most about `flush_interval` seconds of records; a batch cut short
  in the middle of a line is cut back to its last complete line at the next start (logged);
- a disk failing for longer than the queue lasts: the excess, counted.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import threading
import time
from pathlib import Path

import msgspec

from gateway.audit.chain import ChainState
from gateway.audit.errors import AuditError
from gateway.audit.files import WORKER_PLACEHOLDER
from gateway.audit.line import AuditLine, audit_line
from gateway.audit.settings import STDOUT, AuditConfig
from gateway.audit.sink import LineSink
from gateway.request_record import RequestRecord

__all__ = ["AuditLog", "AuditStats", "start_audit_log"]

logger = logging.getLogger("gateway.audit")

_REPORT_INTERVAL = 10.0


class AuditStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counters for metrics and health checks, since the log was created."""

    path: str
    """The file written (the worker's own when the path has `{worker}`), or `-`."""
    buffered: int
    """Records accepted and not yet written."""
    written: int
    """Lines written to the file (handed to the kernel; on disk too with `fsync`)."""
    dropped: int
    """Records lost: the queue was full, the log was closed, a record could not be encoded, or the
    disk still failed when `close()` gave up."""
    failed_writes: int
    """Write attempts the disk refused (each retried)."""
    rotations: int
    """Files rotated out."""


class _FlushRequest:
    """Put in the queue by `flush()`: answered once every line queued before it is written."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done: concurrent.futures.Future[None] = concurrent.futures.Future()


class AuditLog:
    """Buffers audit records and appends them, one JSON line each, to a file or standard output.

    Call `await start()` once (it opens the file, resumes its chain, starts the writer thread),
    `write()` from the event loop's thread for each request, and `await close()` at shutdown after the
    last request was written.
    """

    def __init__(
        self,
        path: str = STDOUT,
        *,
        hash_chain: bool = False,
        rotate_bytes: int | None = None,
        keep_files: int | None = None,
        fsync: bool = False,
        flush_interval: float = 0.5,
        batch_size: int = 1000,
        max_buffered: int = 100_000,
        close_timeout: float = 10.0,
        max_retry_delay: float = 5.0,
    ) -> None:
        if path == STDOUT and (hash_chain or rotate_bytes is not None):
            raise ValueError("a chained or rotated audit log needs a file, not standard output")
        if batch_size < 1 or max_buffered < batch_size:
            raise ValueError("need 1 <= batch_size <= max_buffered")
        if rotate_bytes is not None and rotate_bytes < 1:
            raise ValueError("rotate_bytes must be positive")
        if keep_files is not None and keep_files < 1:
            raise ValueError("keep_files must be at least 1")
        self._hash_chain = hash_chain
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._max_buffered = max_buffered
        self._close_timeout = close_timeout
        self._max_retry_delay = max_retry_delay
        # One writer per file when lines are chained or files rotated, or when each worker gets a
        # file of its own; plain appends of whole lines can share a file between processes.
        exclusive = hash_chain or rotate_bytes is not None or WORKER_PLACEHOLDER in path
        self._sink = LineSink(
            path, exclusive=exclusive, rotate_bytes=rotate_bytes, keep_files=keep_files, fsync=fsync
        )
        # Appended by the event loop's thread, popped by the writer's: deque operations are atomic.
        self._queue: collections.deque[RequestRecord | _FlushRequest] = collections.deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        # Written by the event loop's thread only.
        self._dropped_on_write = 0
        self._dropped_unlogged = 0
        self._drop_logged_at = -_REPORT_INTERVAL
        # Written by the writer's thread only.
        self._chain: ChainState | None = None
        self._backlog = 0
        self._refused = 0
        self._lost = 0
        self._failed_writes = 0
        self._failure_logged_at = -_REPORT_INTERVAL
        self._flushes: list[_FlushRequest] = []
        self._encoder = msgspec.json.Encoder()
        self._checker = msgspec.json.Decoder(AuditLine)

    @classmethod
    def from_config(cls, config: AuditConfig) -> AuditLog:
        """A log as the `audit` section describes it (whether or not it is `enabled`), not started."""
        return cls(
            config.path,
            hash_chain=config.hash_chain,
            rotate_bytes=config.rotate_bytes,
            keep_files=config.keep_files,
            fsync=config.fsync,
            flush_interval=config.flush_interval_seconds,
            batch_size=min(config.batch_size, config.max_buffered_records),
            max_buffered=config.max_buffered_records,
            close_timeout=config.close_timeout_seconds,
        )

    @property
    def path(self) -> Path | None:
        """The file this process writes, once started (None: standard output)."""
        return self._sink.path

    # -- the request path -------------------------------------------------------------------------

    def write(self, record: RequestRecord) -> None:
        """Queue one record. Never blocks, never raises: a full queue drops it (counted, logged)."""
        queue = self._queue
        if self._closed or len(queue) + self._backlog >= self._max_buffered:
            self._drop("the audit log is closed" if self._closed else "the queue is full")
            return
        queue.append(record)
        # Only on reaching the threshold: while the disk fails the queue grows past it, and waking
        # the writer at every record would turn its back-off into a busy loop.
        if len(queue) == self._batch_size:
            self._wake.set()

    def _drop(self, reason: str) -> None:
        self._dropped_on_write += 1
        self._dropped_unlogged += 1
        now = time.monotonic()
        if now - self._drop_logged_at >= _REPORT_INTERVAL:
            logger.error(
                "audit records dropped (%s): %d since the last report, %d in all; "
                "the audit file's disk is failing or too slow",
                reason,
                self._dropped_unlogged,
                self._dropped_on_write,
            )
            self._drop_logged_at = now
            self._dropped_unlogged = 0

    def stats(self) -> AuditStats:
        return AuditStats(
            path=str(self._sink.path) if self._sink.path is not None else STDOUT,
            buffered=len(self._queue) + self._backlog,  # a pending `flush()` counts as one: close enough
            written=self._sink.lines_written,
            dropped=self._dropped_on_write + self._refused + self._lost,
            failed_writes=self._failed_writes,
            rotations=self._sink.rotations,
        )

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the file (claiming it, resuming its chain) and start the writer thread. Raises
        `AuditError` when the file cannot be used. Idempotent."""
        if self._closed:
            raise RuntimeError("the audit log is closed")
        if self._thread is not None:
            return
        opened: concurrent.futures.Future[None] = concurrent.futures.Future()
        # A daemon thread: a disk that hangs must not keep the process from exiting.
        thread = threading.Thread(target=self._run, args=(opened,), name="gateway-audit-writer", daemon=True)
        thread.start()
        try:
            await asyncio.wrap_future(opened)
        except BaseException:
            # The file could not be used, or the start was cancelled: a thread that did open it must
            # not keep it (and its lock) for itself.
            self._stopping.set()
            self._wake.set()
            await asyncio.to_thread(thread.join, self._close_timeout + 5.0)
            raise
        self._thread = thread

    async def flush(self) -> None:
        """Wait until every record written before this call is in the file. While the disk fails this
        waits for it to recover (or for `close()`, which raises `AuditError` here if it gives up)."""
        if self._thread is None or self._closed:
            raise RuntimeError("the audit log is not running")
        request = _FlushRequest()
        self._queue.append(request)
        self._wake.set()
        await asyncio.wrap_future(request.done)

    async def close(self) -> None:
        """Write everything queued (retrying for up to `close_timeout` seconds if the disk fails),
        stop the writer and close the file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        thread = self._thread
        if thread is not None:
            self._stopping.set()
            self._wake.set()
            await asyncio.to_thread(thread.join, self._close_timeout + 5.0)
            if thread.is_alive():
                logger.error(
                    "the audit writer is still blocked writing %s after %.0f s; its last records may be lost",
                    self._sink.path,
                    self._close_timeout,
                )
        elif self._queue:
            self._lost += len(self._queue)
            logger.error("audit log closed before it started: %d records lost", len(self._queue))
            self._queue.clear()
        if self._dropped_unlogged:
            logger.error(
                "audit records dropped since the last report: %d (%d in all)",
                self._dropped_unlogged,
                self._dropped_on_write,
            )
            self._dropped_unlogged = 0

    # -- the writer thread ------------------------------------------------------------------------

    def _run(self, opened: concurrent.futures.Future[None]) -> None:
        try:
            last_line = self._sink.open()
            if self._hash_chain:
                self._chain = self._resume(last_line)
        except BaseException as exc:
            self._sink.close()
            opened.set_exception(exc)
            return
        opened.set_result(None)
        try:
            self._serve()
        except BaseException:
            logger.exception("the audit writer failed")
        finally:
            self._finish()

    def _resume(self, last_line: bytes | None) -> ChainState:
        try:
            return ChainState.after(last_line)
        except (msgspec.DecodeError, ValueError):
            raise AuditError(
                f"{self._sink.path}: the last line is not a chained audit line, so the chain cannot be "
                "continued (was the file written without hash_chain, or edited?); "
                "check it with `gateway audit verify`, then move it aside"
            ) from None

    def _serve(self) -> None:
        delay = self._flush_interval
        while not self._stopping.is_set():
            self._wake.wait(delay)
            self._wake.clear()
            if self._stopping.is_set():
                return  # `_finish` writes what is left
            try:
                written = self._write_queued()
            except Exception:
                # A bug, not a disk failure: keep the thread alive for the records still to come.
                logger.exception("the audit writer failed; retrying")
                written = False
            delay = self._flush_interval if written else min(max(delay * 2, 0.05), self._max_retry_delay)

    def _write_queued(self) -> bool:
        """Write what waits (the sink's backlog first, then the queue). False if the disk failed."""
        sink = self._sink
        try:
            sink.drain()
            lines: list[bytes] = []
            for _ in range(len(self._queue)):  # only this thread pops: that many items are there
                item = self._queue.popleft()
                if isinstance(item, _FlushRequest):
                    self._flushes.append(item)
                    continue
                line = self._line(item)
                if line is not None:
                    lines.append(line)
                if len(lines) >= self._batch_size:
                    lines, batch = [], lines
                    sink.append(batch)
            if lines:
                sink.append(lines)
        except OSError as exc:
            self._failed(exc)
            return False
        finally:
            self._backlog = sink.backlog
        self._answer_flushes(None)
        return True

    def _line(self, record: RequestRecord) -> bytes | None:
        """The record's line, newline included; None (dropped, logged) if it cannot be written."""
        try:
            encoded = self._encoder.encode(audit_line(record))
            # msgspec does not check field types when a struct is built in code: a line that would
            # not read back as an `AuditLine` is refused before it enters the chain.
            self._checker.decode(encoded)
        except (msgspec.MsgspecError, TypeError, ValueError) as exc:
            self._refused += 1
            logger.error(
                "malformed audit record dropped (request %r): %s", getattr(record, "request_id", "?"), exc
            )
            return None
        if self._chain is not None:
            encoded = self._chain.link(encoded)
        return encoded + b"\n"

    def _failed(self, exc: OSError) -> None:
        self._failed_writes += 1
        now = time.monotonic()
        if now - self._failure_logged_at >= _REPORT_INTERVAL:
            logger.warning(
                "cannot write the audit log %s (%s); retrying, %d records waiting (at most %d kept)",
                self._sink.path or STDOUT,
                exc,
                len(self._queue) + self._sink.backlog,
                self._max_buffered,
            )
            self._failure_logged_at = now

    def _answer_flushes(self, error: AuditError | None) -> None:
        flushes, self._flushes = self._flushes, []
        for request in flushes:
            if error is None:
                request.done.set_result(None)
            else:
                request.done.set_exception(error)

    def _finish(self) -> None:
        """At stop: write everything, retrying until `close_timeout`; count what is left; close."""
        deadline = time.monotonic() + self._close_timeout
        delay = 0.05
        for _ in range(10_000):  # ends at the deadline long before this count
            try:
                if self._write_queued():
                    break
            except Exception:
                logger.exception("the audit writer failed while closing")
                break
            if time.monotonic() + delay >= deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        self._flushes.extend(item for item in self._queue if isinstance(item, _FlushRequest))
        left = self._sink.backlog + sum(1 for item in self._queue if not isinstance(item, _FlushRequest))
        self._queue.clear()
        error = None
        if left:
            self._lost += left
            error = AuditError(f"{self._sink.path or STDOUT}: {left} audit records could not be written")
            logger.error("audit log unavailable at shutdown: %d records lost", left)
        self._answer_flushes(error)
        self._backlog = 0
        try:
            self._sink.close()
        except OSError as exc:
            logger.error("cannot close the audit log %s: %s", self._sink.path, exc)


async def start_audit_log(config: AuditConfig) -> AuditLog | None:
    """The started log the `audit` section asks for, or None when it is not `enabled`.

    Call it on the worker's event loop at startup; `await log.close()` at shutdown."""
    if not config.enabled:
        return None
    log = AuditLog.from_config(config)
    await log.start()
    return log
