"""One request's audit record, and the usage report of a month."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from gateway.admin.access import EVERY_DEPARTMENT, is_platform_admin
from gateway.admin.errors import RequestNotFound
from gateway.audit.lookup import find_record, is_request_id
from gateway.authz import ANY_MODEL, USAGE_READ, PermissionDenied
from gateway.identity import Principal
from gateway.metering import admin_usage
from gateway.worker import Worker

__all__ = ["RECORD_ROUTES"]


@get("/requests/{request_id:str}", summary="One request's audit record.")
async def request_record(
    worker: NamedDependency[Worker], principal: NamedDependency[Principal], request_id: FromPath[str]
) -> dict[str, Any]:
    """One request's audit record, for administrators of its department (and platform admins).

    A record of another department answers 404, like a missing one: its existence is not shown."""
    worker.gateway.authorizer.authorize(
        principal.department, principal.service, principal.roles, ANY_MODEL, USAGE_READ
    )
    if not is_request_id(request_id):
        raise RequestNotFound(request_id)
    if worker.audit is not None:
        await worker.audit.flush()  # this worker's latest records are on disk
    record = await asyncio.to_thread(find_record, worker.gateway.config.audit, request_id)
    if record is None or (
        record.get("department") != principal.department and not is_platform_admin(principal)
    ):
        raise RequestNotFound(request_id)
    return record


@get("/usage", summary="Usage report of one month.")
async def usage(
    worker: NamedDependency[Worker],
    principal: NamedDependency[Principal],
    period: FromQuery[str | None] = None,
    by: FromQuery[str] = "department",
    department: FromQuery[str | None] = None,
) -> dict[str, Any]:
    """Usage report of one month (`period=2026-11`, the current one by default): the caller's own
    department unless a platform administrator asks for another one or for every one (`*`)."""
    target = department or principal.department
    if target != principal.department and not is_platform_admin(principal):
        raise PermissionDenied(ANY_MODEL, USAGE_READ)
    domain = principal.department if target == EVERY_DEPARTMENT else target
    worker.gateway.authorizer.authorize(domain, principal.service, principal.roles, ANY_MODEL, USAGE_READ)
    return await admin_usage(
        worker.recorder.store,
        period=period,
        by=by,
        department=None if target == EVERY_DEPARTMENT else target,
    )


RECORD_ROUTES = [request_record, usage]
