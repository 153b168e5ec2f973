"""Usage figures for the overview and department pages, computed by the metering reports.

The store is asked once per page for the month's cells (sums per department, service, model and
day); every table and chart of the page is then a `usage_report` over those same cells, grouped as
it needs, so the console shows exactly what `gateway usage report` and `GET /admin/usage` show.

Reading a month's cells costs the store a scan of that month's records (about 300 ms for 310,000
records in SQLite), so each worker keeps them a few seconds (`console.usage_cache_seconds`): figures
younger than that are shown as they are; older ones, up to six times that, are shown while a fresh
read runs in the background (the page says how old they are); older still are read again before the
page is drawn. A month that ended more than an hour ago no longer changes and stays cached.

Budgets come from the `quotas` section: a department's or a service's `tokens_per_month` against
the weighted tokens of its records in the month, and `tokens_per_day` against today's. They are
read from usage records, so requests still in progress are not in them yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from gateway.console.access import EVERY_DEPARTMENT
from gateway.console.charts import Budget, Series
from gateway.metering import (
    Calendar,
    Period,
    UsageCell,
    UsageReport,
    UsageStore,
    UsageStoreError,
    usage_report,
)
from gateway.quotas.settings import QuotaConfig
from gateway.request_record import RequestRecord

__all__ = ["BudgetLine", "CellsCache", "UsageFigures", "load_figures"]

_CLOSED_AFTER = 3600.0
"""Seconds after a month's end from which its records are taken to be complete."""
_STALE_FACTOR = 6
_MAX_ENTRIES = 64


class _Entry:
    __slots__ = ("as_of", "cells", "fetched", "refresh")

    def __init__(self, cells: list[UsageCell], fetched: float, as_of: float) -> None:
        self.cells = cells
        self.fetched = fetched
        self.as_of = as_of
        self.refresh: asyncio.Task[None] | None = None


class CellsCache:
    """A month's cells per (month, department), per worker, for `ttl` seconds (0: no cache)."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[str, str | None], _Entry] = {}
        self._loading: dict[tuple[str, str | None], asyncio.Task[_Entry]] = {}
        self.reads = 0
        """Store reads made (for tests and the benchmark)."""

    async def _read(self, store: UsageStore, period: Period, department: str | None) -> _Entry:
        as_of = time.time()
        self.reads += 1
        cells = await store.cells(period, department)
        return _Entry(cells, self._clock(), as_of)

    async def _load(self, store: UsageStore, period: Period, department: str | None) -> _Entry:
        key = (period.name, department)
        task = self._loading.get(key)
        if task is None:  # one read per key, however many pages wait for it
            task = asyncio.ensure_future(self._read(store, period, department))
            self._loading[key] = task
            task.add_done_callback(lambda _: self._loading.pop(key, None))
        entry = await asyncio.shield(task)
        if len(self._entries) >= _MAX_ENTRIES and key not in self._entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = entry
        return entry

    async def _refresh(self, store: UsageStore, period: Period, department: str | None) -> None:
        with contextlib.suppress(UsageStoreError):
            await self._load(store, period, department)

    async def cells(
        self, store: UsageStore, period: Period, department: str | None
    ) -> tuple[list[UsageCell], float]:
        """The cells and the time (epoch) they were read at."""
        if self.ttl <= 0:
            return await store.cells(period, department), time.time()
        key = (period.name, department)
        entry = self._entries.get(key)
        now = self._clock()
        if entry is not None:
            age = now - entry.fetched
            closed = entry.as_of > period.end + _CLOSED_AFTER
            if closed or age < self.ttl:
                return entry.cells, entry.as_of
            if age < self.ttl * _STALE_FACTOR:
                if entry.refresh is None or entry.refresh.done():
                    entry.refresh = asyncio.ensure_future(self._refresh(store, period, department))
                return entry.cells, entry.as_of
        entry = await self._load(store, period, department)
        return entry.cells, entry.as_of


class _FetchedCells(UsageStore):
    """The cells read once, served to `usage_report` as many times as a page groups them."""

    def __init__(self, calendar: Calendar, cells: list[UsageCell]) -> None:
        self.calendar = calendar
        self._cells = cells

    async def write(self, batch_id: str, records: Sequence[RequestRecord]) -> None:
        raise NotImplementedError("read-only")

    async def cells(self, period: Period, department: str | None = None) -> list[UsageCell]:
        return [cell for cell in self._cells if department is None or cell.department == department]

    def records(self, period: Period, department: str | None = None) -> AsyncIterator[RequestRecord]:
        raise NotImplementedError("read-only")

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """A budget bar and what it belongs to."""

    level: str
    """`department` or `service`."""
    name: str
    """`dgfip` or `dgfip/assistant-courrier`."""
    budget: Budget


@dataclass(frozen=True, slots=True)
class UsageFigures:
    period: Period
    department: str | None
    """The only department shown, or None for every department."""
    totals: UsageReport
    """Grouped by department."""
    by_service: UsageReport
    by_model: UsageReport
    daily_by_department: list[Series]
    daily_by_service: list[Series]
    daily_by_model: list[Series]
    month_budgets: list[BudgetLine]
    day_budgets: list[BudgetLine]
    today: str | None
    """The local day of the daily budgets, when the period is the current month."""
    as_of: float
    """When the figures were read from the store (epoch)."""

    @property
    def top_models(self) -> list[tuple[str, int, int, float]]:
        """(model, requests, tokens, share of the tokens), largest first."""
        whole = self.by_model.total.total_tokens
        rows = sorted(self.by_model.rows, key=lambda row: (-row.total_tokens, row.key))
        return [
            (row.key[0], row.requests, row.total_tokens, row.total_tokens / whole if whole else 0.0)
            for row in rows
        ]


def _daily(report: UsageReport, days: Sequence[str], name_of: slice) -> list[Series]:
    """Series of total tokens per day from a report grouped by day first, then by the series' columns."""
    index = {day: position for position, day in enumerate(days)}
    values: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for row in report.rows:
        name = "/".join(row.key[name_of])
        values[name][index[row.key[0]]] += row.total_tokens
    return [Series(name, tuple(numbers)) for name, numbers in sorted(values.items())]


def _budgets(
    quotas: QuotaConfig, cells: list[UsageCell], department: str | None, day: str | None
) -> tuple[list[BudgetLine], list[BudgetLine]]:
    month_used: dict[str, int] = defaultdict(int)
    day_used: dict[str, int] = defaultdict(int)
    for cell in cells:
        for name in (cell.department, f"{cell.department}/{cell.service}"):
            month_used[name] += cell.weighted_cost
            if cell.day == day:
                day_used[name] += cell.weighted_cost
    month: list[BudgetLine] = []
    daily: list[BudgetLine] = []
    levels = [("department", quotas.departments), ("service", quotas.services)]
    for level, limits in levels:
        for name, quota in sorted(limits.items()):
            owner = name.split("/", 1)[0]
            if department is not None and owner != department:
                continue  # another department's budget: not this person's to see
            if quota.tokens_per_month is not None:
                month.append(BudgetLine(level, name, Budget(name, month_used[name], quota.tokens_per_month)))
            if quota.tokens_per_day is not None and day is not None:
                daily.append(BudgetLine(level, name, Budget(name, day_used[name], quota.tokens_per_day)))
    return month, daily


async def load_figures(
    store: UsageStore, quotas: QuotaConfig, period: Period, scope: str, cache: CellsCache | None = None
) -> UsageFigures:
    """The figures of `period` for `scope`: one department, or `*` for every one (the caller decided
    that this person may read them). Raises the metering errors (`UsageStoreError`)."""
    department = None if scope == EVERY_DEPARTMENT else scope
    if cache is None:
        cells, as_of = await store.cells(period, department), time.time()
    else:
        cells, as_of = await cache.cells(store, period, department)
    if department is not None:
        cells = [cell for cell in cells if cell.department == department]
    fetched = _FetchedCells(store.calendar, cells)
    name = period.name
    totals = await usage_report(fetched, name, by="department", department=department)
    by_service = await usage_report(fetched, name, by="service", department=department)
    by_model = await usage_report(fetched, name, by="model", department=department)
    daily_department = await usage_report(fetched, name, by=["day", "department"], department=department)
    daily_service = await usage_report(fetched, name, by=["day", "service"], department=department)
    daily_model = await usage_report(fetched, name, by=["day", "model"], department=department)
    now = time.time()
    day = period.day_of(now) if period.contains(now) else None
    month_budgets, day_budgets = _budgets(quotas, cells, department, day)
    return UsageFigures(
        period=period,
        department=department,
        totals=totals,
        by_service=by_service,
        by_model=by_model,
        daily_by_department=_daily(daily_department, period.days, slice(1, 2)),
        daily_by_service=_daily(daily_service, period.days, slice(2, 3) if department else slice(1, 3)),
        daily_by_model=_daily(daily_model, period.days, slice(1, 2)),
        month_budgets=month_budgets,
        day_budgets=day_budgets,
        today=day,
        as_of=as_of,
    )
