"""Each gateway process runs batches in the background: it takes lines from the store's queues and
sends each through the pipeline, under its batch's key, at the `batch` priority class.

One loop per process, every `batches.poll_seconds` (or at once when a batch is created or a line
ends): for each batch with work left, in creation order,

- `validating`: its input file goes into its queue (again after a crash: `enqueue` is idempotent);
- `in_progress`: lines are taken while fewer than `batches.concurrency` are in flight, each running
  batch up to an equal share of them; when all have a result, the batch is finalized;
- past its completion window: finalized as `expired`, the lines left in its error file;
- `cancelling`: finalized as `cancelled`, with the results it has;
- `finalizing` for longer than `claim_after_seconds`: the process finalizing it died; done again.

A line refused for want of capacity or budget (429, 503 from the gateway itself) goes back to the
queue and pauses its batch (`errors` says why, code `batch_paused`): until its `retry-after`, or
`pause_seconds`. Any other answer, the backend's errors included, is the line's result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable

import msgspec

from gateway.batches.disk import FileDirectory
from gateway.batches.errors import BatchStoreUnavailable
from gateway.batches.lines import answered_line, line_usage, unanswered_line
from gateway.batches.records import BatchRecord, BatchStatus, FileRecord, LineError
from gateway.batches.settings import BatchesConfig
from gateway.batches.store import BatchStore, WorkItem
from gateway.batches.validation import BATCH_ENDPOINTS, InputLine, check_input
from gateway.errors import GatewayError
from gateway.identity import KeyStore, Principal
from gateway.pipeline import Pipeline
from gateway.quotas import QuotaExceeded

__all__ = ["BATCH_PRIORITY_HEADERS", "BatchRunner", "output_file_ids"]

logger = logging.getLogger("gateway.batches")

BATCH_PRIORITY_HEADERS = {"content-type": "application/json", "x-gateway-priority": "batch"}
"""What a batch line's request says besides its body: it runs in the lowest priority class."""

# Refusals that say "not now" rather than "not this line": the line waits, its batch pauses.
_CAPACITY_STATUSES = frozenset({429, 503})
_SHUTDOWN_GRACE_SECONDS = 5.0
# How often a running batch's key is looked up again: a revocation stops its lines within this.
_KEY_CHECK_SECONDS = 5.0


def output_file_ids(batch_id: str) -> tuple[str, str]:
    """The ids of a batch's output and error files: fixed, so a finalization done twice writes the
    same files."""
    suffix = batch_id.removeprefix("batch_")
    return f"file-{suffix}-output", f"file-{suffix}-errors"


class BatchRunner:
    def __init__(
        self,
        store: BatchStore,
        directory: FileDirectory,
        pipeline: Pipeline,
        config: BatchesConfig,
        *,
        price_factor: float,
        key_store: KeyStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._directory = directory
        self._pipeline = pipeline
        self._config = config
        self._price_factor = price_factor
        self._key_store = key_store
        self._clock = clock
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"
        self._in_flight: dict[str, dict[str, asyncio.Task[None]]] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_renewal = 0.0
        self._keys_checked: dict[str, float] = {}
        self._share = config.concurrency

    # -- lifetime --------------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop().create_task(self._run(), name="batch-runner")

    def wake(self) -> None:
        """Look at the batches now (one was created or cancelled)."""
        self._wake.set()

    async def stop(self) -> None:
        """Take no more lines, let those in flight finish for a few seconds, then cancel them: a line
        cancelled stays in the queue, taken again after a restart (or by another replica)."""
        self._stopping = True
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        tasks = [task for lines in self._in_flight.values() for task in lines.values()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=_SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=_SHUTDOWN_GRACE_SECONDS)

    @property
    def lines_in_flight(self) -> int:
        return sum(len(lines) for lines in self._in_flight.values())

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.run_once()
            except BatchStoreUnavailable:
                logger.warning("the batch store cannot be reached; batches wait")
            except Exception:
                logger.exception("running the batches failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._config.poll_seconds)

    async def run_once(self) -> None:
        """One look at every batch with work left."""
        now = self._clock()
        if now - self._last_renewal >= self._config.claim_after_seconds / 3:
            self._last_renewal = now
            for batch_id, lines in list(self._in_flight.items()):
                await self._store.renew(batch_id, self.consumer, list(lines))
        active = await self._store.active_batches()
        # Each running batch may hold an equal share of this process's lines: a large batch does
        # not make the ones created after it wait for its end.
        running = sum(1 for record in active if record.status == "in_progress")
        self._share = max(1, -(-self._config.concurrency // max(1, running)))
        for record in active:
            await self._advance(record, now)

    async def _advance(self, record: BatchRecord, now: float) -> None:
        status = record.status
        if status in ("validating", "in_progress") and now >= record.expires_at:
            await self._finalize(record, "expired", now)
        elif status == "validating":
            await self._start(record, now)
        elif status == "cancelling":
            await self._finalize(record, "cancelled", now)
        elif status == "finalizing":
            if record.finalizing_at is None or now - record.finalizing_at >= self._config.claim_after_seconds:
                await self._finalize(record, "completed", now)
        elif status == "in_progress":
            await self._progress(record, now)

    # -- the steps of a batch --------------------------------------------------------------------

    async def _start(self, record: BatchRecord, now: float) -> None:
        content = await self._directory.read(record.input_file_id)
        lines: list[InputLine] = []
        problem = None
        if content is None:
            problem = LineError("input_file_missing", f"The input file {record.input_file_id} is gone.")
        else:
            try:  # checked at upload; the configuration may have changed since
                lines = check_input(
                    content, max_lines=1_000_000_000, model_serves=lambda model, operation: None
                )
            except GatewayError as exc:
                problem = LineError("invalid_batch_input", exc.message)
        if problem is not None:
            failed = msgspec.structs.replace(record, status="failed", failed_at=int(now), errors=[problem])
            await self._store.replace_batch(failed, ("validating",))
            return
        await self._store.enqueue(record.id, lines)
        started = msgspec.structs.replace(
            record, status="in_progress", in_progress_at=int(now), total=len(lines)
        )
        if await self._store.replace_batch(started, ("validating",)):
            await self._progress(started, now)

    async def _progress(self, record: BatchRecord, now: float) -> None:
        if record.paused_until is not None:
            if now < record.paused_until:
                return
            resumed = msgspec.structs.replace(record, paused_until=None, errors=[])
            if not await self._store.replace_batch(resumed, ("in_progress",)):
                return
            record = resumed
        if self._stopping or not await self._key_active(record, now):
            return
        held = len(self._in_flight.get(record.id, ()))
        free = min(self._config.concurrency - self.lines_in_flight, self._share - held)
        items = []
        if free > 0:
            items = await self._store.take(record.id, self.consumer, free, self._config.claim_after_seconds)
        running = self._in_flight.setdefault(record.id, {})
        principal = Principal(
            key_id=record.owner.key_id,
            department=record.owner.department,
            service=record.owner.service,
            roles=record.owner.roles,
        )
        for item in items:
            if item.entry in running:
                continue  # XAUTOCLAIM can hand back a line this process still runs
            task = asyncio.get_running_loop().create_task(self._run_line(record, principal, item))
            running[item.entry] = task
        if not running:
            del self._in_flight[record.id]
            if free > 0 and not items:
                # Nothing left to take here: done when every line has its result (another
                # replica may still be running its last ones).
                completed, failed = await self._store.counts(record.id)
                if completed + failed >= record.total:
                    await self._finalize(record, "completed", now)

    async def _key_active(self, record: BatchRecord, now: float) -> bool:
        """The batch's key may still be used; a revoked or expired key fails the batch."""
        if self._key_store is None or now - self._keys_checked.get(record.id, 0.0) < _KEY_CHECK_SECONDS:
            return True
        self._keys_checked[record.id] = now
        key = await self._key_store.get(record.owner.key_id)
        if key is None or key.status(now) == "active":
            return True  # None: the bootstrap admin key, which the store does not hold
        error = LineError("key_not_active", f"The batch's API key is {key.status(now)}: its lines stopped.")
        await self._finalize(record, "failed", now, errors=[error])
        return False

    async def _run_line(self, record: BatchRecord, principal: Principal, item: WorkItem) -> None:
        try:
            try:
                answer = await self._pipeline.handle_internal(
                    BATCH_ENDPOINTS[record.endpoint],
                    principal,
                    item.body,
                    headers=BATCH_PRIORITY_HEADERS,
                    price_factor=self._price_factor,
                )
            except GatewayError as exc:
                if exc.status_code in _CAPACITY_STATUSES and not _never_fits(exc):
                    await self._store.give_back(record.id, item)
                    await self._pause(record.id, item, exc)
                    return
                request_id = exc.headers.get("x-request-id", "")
                line = answered_line(item.custom_id, exc.status_code, request_id, exc.body())
                failed = True
            else:
                line = answered_line(item.custom_id, answer.status, answer.request_id, answer.body)
                failed = answer.status >= 400
            await self._store.finish(record.id, item, line, failed)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The line stays taken: another look (or another replica) takes it again after claim_after.
            logger.exception("a batch line failed unexpectedly; it will be retried")
        finally:
            running = self._in_flight.get(record.id)
            if running is not None:
                running.pop(item.entry, None)
                if not running:
                    del self._in_flight[record.id]
            self._wake.set()

    async def _pause(self, batch_id: str, item: WorkItem, exc: GatewayError) -> None:
        now = self._clock()
        wait = self._config.pause_seconds
        if isinstance(exc, QuotaExceeded) and exc.refusal.retry_after is not None:
            wait = max(1.0, exc.refusal.retry_after)
        record = await self._store.batch(batch_id)
        if record is None or record.status != "in_progress":
            return
        until = now + wait
        if record.paused_until is not None and record.paused_until >= until:
            return
        message = f"Paused until {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(until))}: {exc.message}"
        error = LineError("batch_paused", message, line=item.number)
        await self._store.replace_batch(
            msgspec.structs.replace(record, paused_until=until, errors=[error]), ("in_progress",)
        )

    async def _finalize(
        self, record: BatchRecord, final: BatchStatus, now: float, errors: list[LineError] | None = None
    ) -> None:
        """Write the output and error files, then give the batch its final status (idempotent: run
        again after a crash, it writes the same files under the same ids)."""
        previous = record.status
        if final == "completed":
            if previous != "finalizing" or record.finalizing_at is None:
                marked = msgspec.structs.replace(record, status="finalizing", finalizing_at=int(now))
            else:
                marked = msgspec.structs.replace(record, finalizing_at=int(now))
            if not await self._store.replace_batch(marked, (previous,)):
                return
            record, previous = marked, "finalizing"
        # Unfinished lines are read before the results: a line that finishes in between is then in
        # both lists (and kept as answered), never in neither.
        unfinished = await self._store.unfinished(record.id) if final == "expired" else []
        results = await self._store.results(record.id)
        output = [result.line for result in results if not result.failed]
        failures = [result.line for result in results if result.failed]
        if unfinished:
            message = "This request could not be executed before the completion window expired."
            answered = {result.number for result in results}
            failures += [
                unanswered_line(custom_id, "batch_expired", message)
                for number, custom_id in unfinished
                if number not in answered
            ]
        output_id, error_id = output_file_ids(record.id)
        output_file = await self._write(record, output_id, "output", output, now)
        error_file = await self._write(record, error_id, "errors", failures, now)
        usage_input = usage_output = 0
        for line in output:
            prompt, completion = line_usage(line)
            usage_input += prompt
            usage_output += completion
        completed = len(output)
        failed = len(results) - completed
        stamp = int(now)
        ended = msgspec.structs.replace(
            record,
            status=final,
            output_file_id=output_file,
            error_file_id=error_file,
            completed=completed,
            failed=failed,
            usage_input=usage_input,
            usage_output=usage_output,
            paused_until=None,
            errors=errors if errors is not None else ([] if final != "failed" else record.errors),
        )
        if final == "completed":
            ended.completed_at = stamp
        elif final == "expired":
            ended.expired_at = stamp
        elif final == "cancelled":
            ended.cancelled_at = stamp
        elif final == "failed":
            ended.failed_at = stamp
        if await self._store.replace_batch(ended, (previous,)):
            # Lines still in flight here end on a queue that is gone: their results are dropped.
            await self._store.drop_work(record.id)

    async def _write(
        self, record: BatchRecord, file_id: str, kind: str, lines: list[bytes], now: float
    ) -> str | None:
        if not lines:
            return None
        content = b"\n".join(lines) + b"\n"
        await self._directory.write(file_id, content)
        await self._store.add_file(
            FileRecord(
                id=file_id,
                owner=record.owner,
                filename=f"{record.id}_{kind}.jsonl",
                purpose="batch_output",
                bytes=len(content),
                created_at=int(now),
            )
        )
        return file_id


def _never_fits(exc: GatewayError) -> bool:
    """A quota refusal no wait can lift: the request alone is larger than the limit."""
    return isinstance(exc, QuotaExceeded) and exc.refusal.retry_after is None
