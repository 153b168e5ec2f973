"""The usage store interface, implemented by the embedded (SQLite) and the Redis stores.

A store is written in batches by `UsageRecorder` and read by reports. Its contract:

- `write(batch_id, records)` is all-or-nothing per batch (the Redis store: per department and
  month of the batch) and idempotent: writing a batch id again, after an attempt whose outcome was
  unknown (a timeout, a lost connection), adds nothing. That is what lets the recorder retry until
  the store answers without ever counting a request twice.
- `cells(period, department)` returns the sums per (department, service, model, local day) of the
  records of one month, each sum exact (integers only). With a department, nothing of any other
  department is read.
- `records(period, department)` returns the records themselves, for exports and audits.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence

from gateway.metering.periods import Calendar, Period
from gateway.metering.records import UsageCell
from gateway.request_record import RequestRecord

__all__ = ["UsageStore"]


class UsageStore(abc.ABC):
    """Async access to usage records. Implementations map their own errors to `UsageStoreError`."""

    calendar: Calendar
    """The time zone that decides days and months: fixed per store, so that the months written and
    the months reported are the same."""

    @abc.abstractmethod
    async def write(self, batch_id: str, records: Sequence[RequestRecord]) -> None:
        """Store `records` durably, at most once per `batch_id` (within a day at least)."""

    @abc.abstractmethod
    async def cells(self, period: Period, department: str | None = None) -> list[UsageCell]:
        """The sums of `period`'s records per (department, service, model, day), of `department`
        only when given (of every department when None). The Redis store refuses a `period` in
        another zone than `calendar`'s (its rollups are filed by day when written); SQLite groups at
        query time and answers any zone."""

    @abc.abstractmethod
    def records(self, period: Period, department: str | None = None) -> AsyncIterator[RequestRecord]:
        """Every record of `period` (of `department` only, when given), read page by page."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and threads. Idempotent."""
