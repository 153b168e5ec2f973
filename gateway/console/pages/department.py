"""One department's page: tokens per day by service and by model, its budgets, its tables, and the
CSV export of its usage report (the metering report's own CSV)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from litestar import Response, get
from litestar.exceptions import NotFoundException, ServiceUnavailableException
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from gateway.audit.errors import AuditError
from gateway.audit.heads import chain_heads
from gateway.console.auth import signed_in
from gateway.console.i18n import LABELS
from gateway.console.pages.common import audit_status, budget_blocks, daily_charts, month_of, period_options
from gateway.console.render import BASE, SECURITY_HEADERS, BadInput, formatter_for, language_of, page
from gateway.console.state import console_of
from gateway.console.usage import load_figures
from gateway.identity import InvalidKeyRequest
from gateway.identity.management import validate_name
from gateway.metering import InvalidUsageQuery, UsageStoreError, render_csv, usage_report
from gateway.metering.statements import monthly_statement, render_statement_csv
from gateway.state import AnyRequest
from gateway.worker import worker_of

__all__ = ["DEPARTMENT_ROUTES"]

_EXPORTS = ("service", "model", "day")


def _department(name: str) -> str:
    """A department name, or 404 (nothing that is not a name reaches a store)."""
    try:
        return validate_name("department", name)
    except InvalidKeyRequest:
        raise NotFoundException() from None


@get("/departments/{department:str}", name="console-department")
async def department_page(
    request: AnyRequest, department: FromPath[str], period: FromQuery[str | None] = None
) -> Template:
    admin = await signed_in(request)
    name = _department(department)
    admin.require(admin.may_read_usage(name))
    worker = worker_of(request)
    gateway = worker.gateway
    store = worker.recorder.store
    month = month_of(store, period)
    language = language_of(request)
    labels = LABELS[language]
    fmt = formatter_for(request, language)
    title = labels["department_title"].format(department=name)
    csv_links = [
        {
            "href": f"{BASE}/departments/{name}/usage.csv?{urlencode({'period': month.name, 'by': by})}",
            "label": labels[f"export_by_{by}"],
        }
        for by in _EXPORTS
    ]
    query = urlencode({"period": month.name})
    statement_links = [
        {"href": f"{BASE}/departments/{name}/statement.{kind}?{query}", "label": labels[f"statement_{kind}"]}
        for kind in ("pdf", "csv")
    ]
    context: dict[str, Any] = {
        "action": f"{BASE}/departments/{name}",
        "periods": period_options(store, month),
        "period": month.name,
        "csv_links": csv_links,
        "statement_links": statement_links,
        "status": await audit_status(worker, name),
    }
    try:
        figures = await load_figures(store, gateway.config.quotas, month, name, console_of(request).usage)
    except UsageStoreError:
        return page(request, admin, "usage.html.j2", title, {**context, "figures": None}, status_code=503)
    context |= {
        "figures": figures,
        "charts": daily_charts(figures, ["service", "model"], labels, fmt),
        "budgets": budget_blocks(figures, labels, fmt),
        "tables": [
            {
                "id": "by-service",
                "heading": labels["usage_by_service"],
                "report": figures.by_service,
                "first": labels["service"],
                "link": None,
            },
            {
                "id": "by-model",
                "heading": labels["usage_by_model"],
                "report": figures.by_model,
                "first": labels["model"],
                "link": None,
            },
        ],
    }
    return page(request, admin, "usage.html.j2", title, context)


@get("/departments/{department:str}/usage.csv", name="console-department-csv")
async def department_csv(
    request: AnyRequest,
    department: FromPath[str],
    period: FromQuery[str | None] = None,
    by: FromQuery[str] = "service",
) -> Response[str]:
    """The department's usage report as `gateway usage report --format csv` writes it."""
    admin = await signed_in(request)
    name = _department(department)
    admin.require(admin.may_read_usage(name))
    worker = worker_of(request)
    store = worker.recorder.store
    month = month_of(store, period)
    try:
        report = await usage_report(store, month.name, by=by, department=name)
    except InvalidUsageQuery as exc:
        raise BadInput(str(exc)) from None
    except UsageStoreError:
        raise ServiceUnavailableException() from None
    filename = f"usage-{name}-{month.name}-{'-'.join(report.columns)}.csv"
    return Response(
        render_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _statement(request: AnyRequest, department: str, period: str | None, kind: str) -> Response[bytes]:
    """The department's monthly statement, as `gateway usage statement` writes it (PDF or CSV)."""
    admin = await signed_in(request)
    name = _department(department)
    admin.require(admin.may_read_usage(name))
    worker = worker_of(request)
    store = worker.recorder.store
    month = month_of(store, period)
    try:
        # Reading and verifying the audit chains is file work: off the event loop.
        heads = await asyncio.to_thread(chain_heads, worker.gateway.config.audit)
        statement = await monthly_statement(store, month.name, name, heads)
    except InvalidUsageQuery as exc:
        raise BadInput(str(exc)) from None
    except (UsageStoreError, AuditError):
        raise ServiceUnavailableException() from None
    if kind == "pdf":
        from gateway.metering.statement_pdf import statement_pdf

        body, media_type = await asyncio.to_thread(statement_pdf, statement), "application/pdf"
    else:
        body, media_type = render_statement_csv(statement).encode(), "text/csv; charset=utf-8"
    filename = f"statement-{name}-{month.name}.{kind}"
    return Response(
        body,
        media_type=media_type,
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


@get("/departments/{department:str}/statement.pdf", name="console-department-statement-pdf")
async def department_statement_pdf(
    request: AnyRequest, department: FromPath[str], period: FromQuery[str | None] = None
) -> Response[bytes]:
    """The department's monthly statement in PDF, signed off with the audit chains' heads."""
    return await _statement(request, department, period, "pdf")


@get("/departments/{department:str}/statement.csv", name="console-department-statement-csv")
async def department_statement_csv(
    request: AnyRequest, department: FromPath[str], period: FromQuery[str | None] = None
) -> Response[bytes]:
    """The department's monthly statement in CSV, signed off with the audit chains' heads."""
    return await _statement(request, department, period, "csv")


DEPARTMENT_ROUTES = [department_page, department_csv, department_statement_pdf, department_statement_csv]
