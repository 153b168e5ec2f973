"""Batches: a department's batch jobs with their progress, and their output and error files to
download. A department administrator sees its own; a platform administrator every department's."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.exceptions import NotFoundException, ServiceUnavailableException
from litestar.params import FromPath
from litestar.response import Template

from gateway.batches.errors import BatchStoreUnavailable
from gateway.console.access import EVERY_DEPARTMENT
from gateway.console.auth import signed_in
from gateway.console.render import BASE, SECURITY_HEADERS, page
from gateway.state import AnyRequest
from gateway.worker import worker_of

__all__ = ["BATCH_PAGES"]

_SHOWN = 200


def _row(batch: dict[str, Any], department: str) -> dict[str, Any]:
    counts = batch["request_counts"]
    done = counts["completed"] + counts["failed"]
    files = [
        (kind, f"{BASE}/batches/files/{batch[field]}")
        for kind, field in (("output_file", "output_file_id"), ("error_file", "error_file_id"))
        if batch[field]
    ]
    paused = next((error["message"] for error in (batch["errors"] or {}).get("data", [])), None)
    return {
        "id": batch["id"],
        "department": department,
        "status": batch["status"],
        "endpoint": batch["endpoint"],
        "created_at": batch["created_at"],
        "total": counts["total"],
        "done": done,
        "failed": counts["failed"],
        "share": done / counts["total"] if counts["total"] else 0.0,
        "files": files,
        "note": paused,
    }


@get("/batches", name="console-batches")
async def batches_page(request: AnyRequest) -> Template:
    admin = await signed_in(request)
    scope = admin.usage_scope()
    admin.require(admin.may_read_usage(scope))
    batches = worker_of(request).batches
    if batches is None:
        raise NotFoundException()
    try:
        records = await batches.store.batches(None if scope == EVERY_DEPARTMENT else scope)
        rows = [_row(await batches.shown(record), record.owner.department) for record in records[:_SHOWN]]
    except BatchStoreUnavailable:
        raise ServiceUnavailableException() from None
    context = {"rows": rows, "every_department": scope == EVERY_DEPARTMENT}
    return page(request, admin, "batches.html.j2", "batches_title", context)


@get("/batches/files/{file_id:str}", name="console-batch-file")
async def batch_file(request: AnyRequest, file_id: FromPath[str]) -> Response[bytes]:
    """A batch's file, for a reader of its department's usage (404 for others, as for unknown ids)."""
    admin = await signed_in(request)
    batches = worker_of(request).batches
    if batches is None or batches.directory.path(file_id) is None:
        raise NotFoundException()
    try:
        record = await batches.store.file(file_id)
    except BatchStoreUnavailable:
        raise ServiceUnavailableException() from None
    if record is None or not admin.may_read_usage(record.owner.department):
        raise NotFoundException()
    content = await batches.directory.read(file_id)
    if content is None:
        raise NotFoundException()
    return Response(
        content,
        media_type="application/jsonl",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{record.filename}"'},
    )


BATCH_PAGES = [batches_page, batch_file]
