"""The request log: audit records filtered and paged, newest first, and one record's detail.

A department administrator's searches are always limited to its own department (asking for another
one answers 403), and a record of another department looks like a missing one. Records hold ids,
labels and counts only: never prompt text or personal data, so the pages cannot show any.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from gateway.audit.lookup import AuditNotSearchable, find_record, is_request_id
from gateway.console.access import EVERY_DEPARTMENT, Administrator
from gateway.console.auditlog import AuditUnreadable, LogFilters, read_page
from gateway.console.auth import signed_in
from gateway.console.i18n import LABELS
from gateway.console.pages.common import flush_audit
from gateway.console.render import BASE, BadInput, language_of, page
from gateway.console.state import console_of
from gateway.identity import InvalidKeyRequest
from gateway.identity.management import validate_name
from gateway.metering.periods import load_zone
from gateway.state import AnyRequest
from gateway.worker import worker_of

__all__ = ["REQUEST_ROUTES"]

PAGE_SIZE = 50
_STATUS = re.compile(r"[1-5]xx|[1-5]\d\d")
_CURSOR = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\|req-[0-9a-f]{24}")
_MAX_TEXT = 256


def _utc(local: str | None, zone_name: str, field: str) -> str | None:
    """A `datetime-local` value (`2026-11-03T09:15`, in the metering zone) as the audit log's UTC text."""
    if not local:
        return None
    try:
        moment = datetime.fromisoformat(local)
    except ValueError:
        raise BadInput(f"{field}: {local[:40]!r} is not a date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=load_zone(zone_name))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _text(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > _MAX_TEXT or not value.isprintable():
        raise BadInput(f"{field} is not valid")
    return value


def _scope(admin: Administrator, department: str | None) -> str | None:
    """The department the search is limited to (None: every one), after the access check."""
    if department:
        try:
            validate_name("department", department)
        except InvalidKeyRequest as exc:
            raise BadInput(str(exc)) from None
        admin.require(admin.may_read_usage(department))
        return department
    scope = admin.usage_scope()
    admin.require(admin.may_read_usage(scope))
    return None if scope == EVERY_DEPARTMENT else scope


@get("/requests", name="console-requests")
async def request_log(
    request: AnyRequest,
    department: FromQuery[str | None] = None,
    service: FromQuery[str | None] = None,
    model: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
    request_id: FromQuery[str | None] = None,
    before: FromQuery[str | None] = None,
) -> Template:
    admin = await signed_in(request)
    scope = _scope(admin, department)
    worker = worker_of(request)
    gateway = worker.gateway
    zone = gateway.config.metering.timezone
    if status and not _STATUS.fullmatch(status):
        raise BadInput("status: 2xx, 4xx, 5xx or a code such as 429")
    if request_id and not is_request_id(request_id.strip()):
        raise BadInput("request id: req- and 24 hexadecimal digits")
    if before and not _CURSOR.fullmatch(before):
        raise BadInput("the page position is not valid")
    filters = LogFilters(
        department=scope,
        service=_text(service, "service"),
        model=_text(model, "model"),
        status=status or None,
        since=_utc(since, zone, "since"),
        until=_utc(until, zone, "until"),
        request_id=request_id.strip() if request_id else None,
    )
    form = {
        "department": department or "",
        "service": service or "",
        "model": model or "",
        "status": status or "",
        "since": since or "",
        "until": until or "",
        "request_id": request_id or "",
    }
    context: dict[str, Any] = {
        "form": form,
        "zone": zone,
        "models": sorted(gateway.pools),
        "records": [],
        "unreadable": None,
        "stopped": False,
        "older": None,
        "newest": None,
        "scan_mib": console_of(request).settings.log_scan_mib,
    }
    await flush_audit(worker)
    try:
        result = await asyncio.to_thread(
            read_page,
            gateway.config.audit,
            filters,
            limit=PAGE_SIZE,
            before=before,
            max_bytes=context["scan_mib"] * 1024 * 1024,
        )
    except AuditUnreadable as exc:
        context["unreadable"] = exc.reason
        return page(request, admin, "requests.html.j2", "requests_title", context)
    query = {name: value for name, value in form.items() if value}
    context |= {
        "records": result.records,
        "stopped": result.stopped,
        "older": f"{BASE}/requests?{urlencode({**query, 'before': result.cursor})}"
        if result.cursor
        else None,
        "newest": f"{BASE}/requests?{urlencode(query)}" if before else None,
    }
    return page(request, admin, "requests.html.j2", "requests_title", context)


@get("/requests/{request_id:str}", name="console-request")
async def request_detail(request: AnyRequest, request_id: FromPath[str]) -> Template:
    admin = await signed_in(request)
    scope = admin.usage_scope()
    admin.require(admin.may_read_usage(scope))
    if not is_request_id(request_id):
        raise NotFoundException()
    worker = worker_of(request)
    gateway = worker.gateway
    labels = LABELS[language_of(request)]
    title = labels["request_title"].format(request_id=request_id)
    await flush_audit(worker)
    try:
        record = await asyncio.to_thread(find_record, gateway.config.audit, request_id)
    except AuditNotSearchable:
        reason = "off" if not gateway.config.audit.enabled else "stdout"
        return page(request, admin, "request.html.j2", title, {"record": None, "unreadable": reason})
    if record is not None and scope != EVERY_DEPARTMENT and record.get("department") != scope:
        record = None  # another department's record looks like a missing one
    context: dict[str, Any] = {"record": None, "unreadable": None, "request_id": request_id}
    if record is None:
        return page(request, admin, "request.html.j2", title, context, status_code=404)
    pii = record.get("pii")
    context |= {
        "record": record,
        "unreadable": None,
        "pii": sorted(pii.items()) if isinstance(pii, dict) else [],
        "request_id": request_id,
    }
    return page(request, admin, "request.html.j2", title, context)


REQUEST_ROUTES = [request_log, request_detail]
