"""Keys: list a department's, create one (the answer is the only place the key ever appears),
revoke one."""

from __future__ import annotations

import time
from typing import Any

from litestar import delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from gateway.admin.access import (
    EVERY_DEPARTMENT,
    PLATFORM_ROLE,
    check_grant,
    is_platform_admin,
    require_admin,
)
from gateway.admin.errors import KeyNotFound
from gateway.authz import ADMIN, ANY_MODEL, PermissionDenied
from gateway.errors import InvalidRequest
from gateway.identity import Principal, create_key, list_keys, parse_duration, revoke_key
from gateway.identity.cli import record_summary
from gateway.identity.management import key_id_from, validate_roles
from gateway.parsing import decode_json_object
from gateway.state import AnyRequest
from gateway.worker import Worker

__all__ = ["CREATE_KEY_SCHEMA", "KEY_ROUTES"]

CREATE_KEY_SCHEMA = {
    "type": "object",
    "required": ["service"],
    "properties": {
        "service": {"type": "string", "description": "The service the key belongs to."},
        "department": {"type": "string", "description": "Its department (the caller's by default)."},
        "roles": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Its roles (`user` by default).",
        },
        "expires_in": {"type": "string", "description": "Its lifetime, e.g. `90d`, `12h` (none by default)."},
        "label": {"type": "string", "description": "A note for administrators."},
    },
}
"""The body `create_api_key` reads (other fields are ignored), for the API reference: it parses the
body itself, so Litestar cannot infer it."""


def _string_field(payload: dict[str, Any], field: str) -> str | None:
    value = payload.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"Invalid type for '{field}': expected a string.", param=field)
    return value


def _required_string(payload: dict[str, Any], field: str) -> str:
    value = _string_field(payload, field)
    if value is None:
        raise InvalidRequest(f"Missing required parameter: '{field}'.", param=field)
    return value


def _roles_field(payload: dict[str, Any]) -> tuple[str, ...]:
    roles = payload.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise InvalidRequest("Invalid type for 'roles': expected an array of strings.", param="roles")
    return tuple(roles)


@get("/keys", summary="List the keys of a department.")
async def list_api_keys(
    worker: NamedDependency[Worker],
    principal: NamedDependency[Principal],
    department: FromQuery[str | None] = None,
) -> dict[str, Any]:
    """The keys of one department (the caller's by default; `*` for all, platform admins only)."""
    target = department or principal.department
    require_admin(worker.gateway, principal, target)
    records = await list_keys(worker.key_store, None if target == EVERY_DEPARTMENT else target)
    now = time.time()
    return {"object": "list", "data": [record_summary(record, now) for record in records]}


@post("/keys", status_code=201, summary="Create a key.")
async def create_api_key(
    request: AnyRequest, worker: NamedDependency[Worker], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    """Create a key; the answer is the only place the key ever appears."""
    payload = decode_json_object(await request.body())
    department = _string_field(payload, "department") or principal.department
    service = _required_string(payload, "service")
    roles = _roles_field(payload)
    expires = _string_field(payload, "expires_in")
    label = _string_field(payload, "label") or ""
    require_admin(worker.gateway, principal, department)
    if PLATFORM_ROLE in roles and not is_platform_admin(principal):
        raise PermissionDenied(ANY_MODEL, ADMIN)
    # What the key will carry (`user` when none is given) is what the grant check must see.
    roles = validate_roles(roles)
    check_grant(worker.gateway, principal, roles)
    expires_in = parse_duration(expires) if expires is not None else None
    record, key = await create_key(
        worker.key_store, worker.pepper, department, service, roles, expires_in, label
    )
    return {"key": key, **record_summary(record, time.time())}


@delete("/keys/{key_id:str}", status_code=200, summary="Revoke a key.")
async def revoke_api_key(
    worker: NamedDependency[Worker], principal: NamedDependency[Principal], key_id: FromPath[str]
) -> dict[str, Any]:
    """Revoke a key; every worker and replica refuses it within a second."""
    record = await worker.key_store.get(key_id_from(key_id))
    # An unknown key and another department's key look the same to a department admin.
    if record is None or (record.department != principal.department and not is_platform_admin(principal)):
        raise KeyNotFound()
    require_admin(worker.gateway, principal, record.department)
    revoked = await revoke_key(worker.key_store, record.id)
    return record_summary(revoked, time.time())


KEY_ROUTES = [list_api_keys, create_api_key, revoke_api_key]
