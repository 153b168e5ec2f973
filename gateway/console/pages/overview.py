"""The overview: the month's tokens per day and department, budgets, requests and errors, top models.

A platform administrator sees every department; a department administrator sees its own only (the
store is asked for that department alone)."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from gateway.console.auth import signed_in
from gateway.console.i18n import LABELS
from gateway.console.pages.common import (
    audit_status,
    budget_blocks,
    daily_charts,
    month_of,
    period_options,
)
from gateway.console.render import BASE, formatter_for, language_of, page, redirect
from gateway.console.state import console_of
from gateway.console.usage import load_figures
from gateway.metering import UsageStoreError
from gateway.state import AnyRequest
from gateway.worker import worker_of

__all__ = ["overview"]


@get(["/", "/overview"], name="console-overview")
async def overview(request: AnyRequest, period: FromQuery[str | None] = None) -> Template | Redirect:
    admin = await signed_in(request)
    scope = admin.usage_scope()
    if not admin.may_read_usage(scope):
        return redirect(f"{BASE}/keys")  # a key that manages keys but reads no usage
    worker = worker_of(request)
    gateway = worker.gateway
    store = worker.recorder.store
    month = month_of(store, period)
    language = language_of(request)
    labels = LABELS[language]
    fmt = formatter_for(request, language)
    context: dict[str, Any] = {
        "action": f"{BASE}/",
        "periods": period_options(store, month),
        "period": month.name,
        "csv_links": [],
        "status": await audit_status(worker, scope),
    }
    try:
        figures = await load_figures(store, gateway.config.quotas, month, scope, console_of(request).usage)
    except UsageStoreError:
        return page(
            request, admin, "usage.html.j2", "overview_title", {**context, "figures": None}, status_code=503
        )
    groups = ["department"] if admin.is_platform else ["service"]
    first_table: dict[str, Any] = (
        {
            "id": "by-department",
            "heading": labels["departments"],
            "report": figures.totals,
            "first": labels["department"],
            "link": f"{BASE}/departments/",
        }
        if admin.is_platform
        else {
            "id": "by-service",
            "heading": labels["services"],
            "report": figures.by_service,
            "first": labels["service"],
            "link": None,
        }
    )
    context |= {
        "figures": figures,
        "charts": daily_charts(figures, groups, labels, fmt),
        "budgets": budget_blocks(figures, labels, fmt),
        "tables": [first_table],
    }
    return page(request, admin, "usage.html.j2", "overview_title", context)
