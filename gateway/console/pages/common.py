"""What several pages share: the month asked for, the audit log's recent status, the usage sections."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.console.access import EVERY_DEPARTMENT
from gateway.console.auditlog import AuditUnreadable, StatusCounts, recent_status
from gateway.console.charts import PALETTE_SIZE, budget_bars, stacked_bars, top_series
from gateway.console.i18n import Formatter
from gateway.console.render import BadInput
from gateway.console.usage import BudgetLine, UsageFigures
from gateway.metering import InvalidUsageQuery, Period, UsageStore
from gateway.worker import Worker

__all__ = [
    "STATUS_RECORDS",
    "audit_status",
    "budget_blocks",
    "daily_charts",
    "flush_audit",
    "month_of",
    "period_options",
]

STATUS_RECORDS = 5000
"""Latest requests the overview's error rate is computed on."""
_STATUS_BYTES = 4 * 1024 * 1024
_FLUSH_SECONDS = 1.0
_MONTHS_OFFERED = 13


def month_of(store: UsageStore, text: str | None) -> Period:
    """The month `text` names (`2026-11`), the current one when None; `BadInput` otherwise."""
    if text is None or text == "":
        return store.calendar.current()
    try:
        return store.calendar.period(text)
    except InvalidUsageQuery as exc:
        raise BadInput(str(exc)) from None


def period_options(store: UsageStore, chosen: Period) -> list[str]:
    """The current month and the twelve before it, plus the chosen one if it is older."""
    month = store.calendar.current()
    names = []
    for _ in range(_MONTHS_OFFERED):
        names.append(month.name)
        month = month.previous()
    if chosen.name not in names:
        names.append(chosen.name)
    return names


async def flush_audit(worker: Worker) -> None:
    """Let this worker's latest records reach the file, waiting a second at most (a failing disk
    must not hang the page)."""
    if worker.audit is not None:
        with contextlib.suppress(TimeoutError, RuntimeError):
            await asyncio.wait_for(worker.audit.flush(), _FLUSH_SECONDS)


async def audit_status(worker: Worker, scope: str) -> StatusCounts | None:
    """Error counts over the latest requests of `scope`, or None when the audit log is not a file."""
    await flush_audit(worker)
    department = None if scope == EVERY_DEPARTMENT else scope
    try:
        return await asyncio.to_thread(
            recent_status,
            worker.gateway.config.audit,
            department,
            max_records=STATUS_RECORDS,
            max_bytes=_STATUS_BYTES,
        )
    except AuditUnreadable:
        return None


def daily_charts(
    figures: UsageFigures, groups: Sequence[str], labels: Mapping[str, str], fmt: Formatter
) -> list[dict[str, Any]]:
    """One stacked chart per grouping (`department`, `service`, `model`), largest series first."""
    charts = []
    for group in groups:
        series = {
            "department": figures.daily_by_department,
            "service": figures.daily_by_service,
            "model": figures.daily_by_model,
        }[group]
        shown = top_series(series, PALETTE_SIZE - 1, labels["other"])
        caption = labels[f"tokens_per_day_by_{group}"].format(period=figures.period.name)
        svg = stacked_bars(
            figures.period.days,
            shown,
            chart_id=f"daily-{group}",
            title=caption,
            description=labels["chart_description"].format(what=labels[f"by_{group}"]),
            axis_format=fmt.compact,
            value_format=fmt.num,
            category_label=lambda day: day[-2:].lstrip("0"),
        )
        charts.append({"id": f"daily-{group}", "caption": caption, "svg": svg, "series": shown})
    return charts


def budget_blocks(figures: UsageFigures, labels: Mapping[str, str], fmt: Formatter) -> list[dict[str, Any]]:
    """The monthly budgets, and today's when the period is the current month."""
    blocks = []
    sections: list[tuple[str, str, list[BudgetLine]]] = [
        ("month", labels["budgets_month"].format(period=figures.period.name), figures.month_budgets),
        ("day", labels["budgets_day"].format(day=figures.today or ""), figures.day_budgets),
    ]
    for name, caption, lines in sections:
        if not lines:
            continue
        svg = budget_bars(
            [line.budget for line in lines],
            chart_id=f"budgets-{name}",
            title=caption,
            description=labels["budgets_description"],
            value_format=fmt.compact,
            share_format=fmt.pct_whole,
            limit_label=labels["limit"],
        )
        blocks.append({"caption": caption, "svg": svg, "lines": lines})
    return blocks
