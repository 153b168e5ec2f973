"""Keys: the list per service, creating a key (shown once), revoking one after a confirmation.

The same operations and checks as the admin API: `admin` in the key's department, platform
administrators alone for another department or for the `admin` role. A department administrator
asking for another department's keys gets 403; another department's key id looks unknown (404).
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from gateway.console.access import EVERY_DEPARTMENT, Administrator
from gateway.console.auth import signed_in
from gateway.console.i18n import LABELS
from gateway.console.render import BASE, BadInput, language_of, page, redirect
from gateway.identity import (
    InvalidKeyRequest,
    KeyRecord,
    UnknownKey,
    create_key,
    list_keys,
    parse_duration,
    revoke_key,
)
from gateway.identity.management import BUILTIN_ROLES, key_id_from, validate_name
from gateway.state import AnyRequest
from gateway.worker import Worker, worker_of

__all__ = ["KEY_ROUTES"]

EXPIRY_CHOICES = ("", "1d", "7d", "30d", "90d", "365d")
_PREFIX = re.compile(r"sgw_[a-z2-7]{12}")


def _target(admin: Administrator, department: str | None) -> str:
    target = department or admin.department
    if target != EVERY_DEPARTMENT:
        try:
            validate_name("department", target)
        except InvalidKeyRequest as exc:
            raise BadInput(str(exc)) from None
    admin.require(admin.may_manage_keys(target))
    return target


async def _keys_context(worker: Worker, admin: Administrator, target: str) -> dict[str, Any]:
    records = await list_keys(worker.key_store, None if target == EVERY_DEPARTMENT else target)
    if not admin.is_platform:
        records = [record for record in records if record.department == admin.department]
    groups: dict[tuple[str, str], list[KeyRecord]] = defaultdict(list)
    for record in records:
        groups[(record.department, record.service)].append(record)
    now = time.time()
    return {
        "target": target,
        "groups": [
            {
                "department": department,
                "service": service,
                "records": [(record, record.status(now)) for record in keys],
            }
            for (department, service), keys in sorted(groups.items())
        ],
        "roles": [role for role in BUILTIN_ROLES if admin.may_grant((role,))],
        "expiries": EXPIRY_CHOICES,
        "values": {
            "department": "" if target == EVERY_DEPARTMENT else target,
            "service": "",
            "label": "",
            "roles": ["user"],
            "expires": "",
        },
        "error": None,
        "revoked": None,
    }


@get("/keys", name="console-keys")
async def keys_page(
    request: AnyRequest, department: FromQuery[str | None] = None, revoked: FromQuery[str | None] = None
) -> Template:
    admin = await signed_in(request)
    target = _target(admin, department)
    context = await _keys_context(worker_of(request), admin, target)
    if revoked and _PREFIX.fullmatch(revoked):
        context["revoked"] = revoked
    labels = LABELS[language_of(request)]
    title = (
        labels["keys_title"] if target == EVERY_DEPARTMENT else labels["keys_of"].format(department=target)
    )
    return page(request, admin, "keys.html.j2", title, context)


@post("/keys", name="console-keys-create", status_code=200)
async def create(request: AnyRequest) -> Template:
    admin = await signed_in(request)
    form = await request.form()
    department = str(form.get("department") or "").strip() or admin.department
    if not admin.is_platform:
        department = admin.department  # whatever was posted: a department admin creates in its own
    service = str(form.get("service") or "").strip()
    label = str(form.get("label") or "").strip()
    expires = str(form.get("expires") or "").strip()
    roles = tuple(str(role) for role in form.getall("roles", []) if role) or ("user",)
    target = _target(admin, department)
    admin.require(admin.may_grant(roles))
    worker = worker_of(request)
    labels = LABELS[language_of(request)]
    try:
        if target == EVERY_DEPARTMENT:
            raise InvalidKeyRequest("choose one department")
        if expires and expires not in EXPIRY_CHOICES:
            raise InvalidKeyRequest(f"{expires!r} is not one of the offered durations")
        record, key = await create_key(
            worker.key_store,
            worker.pepper,
            target,
            service,
            roles,
            parse_duration(expires) if expires else None,
            label,
        )
    except InvalidKeyRequest as exc:
        context = await _keys_context(worker, admin, target)
        values = {
            "department": department,
            "service": service,
            "label": label,
            "roles": list(roles),
            "expires": expires,
        }
        context |= {"error": labels["key_invalid"].format(reason=exc), "values": values}
        return page(request, admin, "keys.html.j2", "keys_title", context, status_code=400)
    context = {
        "record": record,
        "key": key,
        "back": f"{BASE}/keys?{urlencode({'department': record.department})}",
    }
    return page(request, admin, "key_created.html.j2", "key_created_title", context)


async def _revocable(request: AnyRequest, admin: Administrator, key_id: str) -> KeyRecord:
    worker = worker_of(request)
    try:
        record = await worker.key_store.get(key_id_from(key_id))
    except InvalidKeyRequest:
        raise NotFoundException() from None
    # Another department's key looks like an unknown one to a department administrator.
    if record is None or (record.department != admin.department and not admin.is_platform):
        raise NotFoundException()
    admin.require(admin.may_manage_keys(record.department))
    return record


@get("/keys/{key_id:str}/revoke", name="console-key-revoke-confirm")
async def confirm_revoke(request: AnyRequest, key_id: FromPath[str]) -> Template:
    admin = await signed_in(request)
    record = await _revocable(request, admin, key_id)
    labels = LABELS[language_of(request)]
    context = {"record": record, "back": f"{BASE}/keys?{urlencode({'department': record.department})}"}
    return page(
        request, admin, "revoke.html.j2", labels["revoke_title"].format(prefix=record.prefix), context
    )


@post("/keys/{key_id:str}/revoke", name="console-key-revoke", status_code=303)
async def revoke(request: AnyRequest, key_id: FromPath[str]) -> Redirect:
    admin = await signed_in(request)
    record = await _revocable(request, admin, key_id)
    worker = worker_of(request)
    try:
        await revoke_key(worker.key_store, record.id)
    except UnknownKey:
        raise NotFoundException() from None
    query = urlencode({"department": record.department, "revoked": record.prefix})
    return redirect(f"{BASE}/keys?{query}")


KEY_ROUTES = [keys_page, create, confirm_revoke, revoke]
