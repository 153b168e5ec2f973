"""The admin API under `/admin`: keys and the policy in force, for the roles the policy allows.

Who may administer what is decided by the same Casbin policy as everything else, operation
`admin`, always in the caller's own department. Another department is reachable only by platform
administrators (role `admin`, or the bootstrap key), and their rights are then decided in that
department. Only they may hand out the `admin` role, or any role at will: a department administrator
grants only roles it holds, and none that reaches what its own key may not (gateway/authz/grants.py),
so it cannot mint a key more powerful than its own.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from litestar import delete, get, post
from litestar.params import FromPath, FromQuery

from gateway.audit.lookup import AuditNotSearchable, find_record, is_request_id
from gateway.authz import ADMIN, ANY_MODEL, USAGE_READ, PermissionDenied, PolicyError, grant_refusal
from gateway.errors import GatewayError, InvalidRequest
from gateway.identity import (
    InvalidKeyRequest,
    Principal,
    UnknownKey,
    create_key,
    list_keys,
    parse_duration,
    revoke_key,
)
from gateway.identity.cli import record_summary
from gateway.identity.management import key_id_from, validate_roles
from gateway.metering import InvalidUsageQuery, UsageStoreError, admin_usage
from gateway.parsing import decode_json_object
from gateway.state import AnyRequest, Gateway, gateway_of

__all__ = ["ADMIN_ROUTES", "PLATFORM_ROLE"]

PLATFORM_ROLE = "admin"
_EVERY_DEPARTMENT = "*"


class RequestNotFound(GatewayError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "request_not_found"


class GrantDenied(GatewayError):
    """403: the roles asked for a new key reach further than the caller's own key."""

    status_code = 403
    error_type = "invalid_request_error"
    code = "permission_denied"


class KeyNotFound(GatewayError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "key_not_found"


class PolicyInvalid(GatewayError):
    """422: the policy files on disk cannot be loaded; the policy in force stays."""

    status_code = 422
    error_type = "invalid_request_error"
    code = "policy_invalid"


class RecordsNotSearchable(GatewayError):
    status_code = 500
    error_type = "server_error"
    code = "audit_not_searchable"

    def __init__(self) -> None:
        super().__init__("Request records can be looked up only when `audit` writes to a file.")


class UsageUnavailable(GatewayError):
    status_code = 500
    error_type = "server_error"
    code = "usage_unavailable"

    def __init__(self) -> None:
        super().__init__("Usage cannot be read right now; please retry.")


def _is_platform_admin(principal: Principal) -> bool:
    return principal.department == _EVERY_DEPARTMENT or PLATFORM_ROLE in principal.roles


def _require_admin(gateway: Gateway, principal: Principal, department: str) -> None:
    """403 unless the caller may administer `department` (`*`: every department)."""
    if department != principal.department and not _is_platform_admin(principal):
        raise PermissionDenied(ANY_MODEL, ADMIN)
    domain = principal.department if department == _EVERY_DEPARTMENT else department
    gateway.authorizer.authorize(domain, principal.service, principal.roles, ANY_MODEL, ADMIN)


def _check_grant(gateway: Gateway, principal: Principal, roles: tuple[str, ...]) -> None:
    """403 unless the caller may give a key these roles (platform administrators always may)."""
    if _is_platform_admin(principal):
        return
    refusal = grant_refusal(
        gateway.authorizer,
        department=principal.department,
        service=principal.service,
        roles=principal.roles,
        granted=roles,
        models=[model.name for model in gateway.config.models],
    )
    if refusal is not None:
        raise GrantDenied(refusal, param="roles")


def _string_field(payload: dict[str, Any], field: str, *, required: bool = False) -> str | None:
    value = payload.get(field)
    if value is None:
        if required:
            raise InvalidRequest(f"Missing required parameter: '{field}'.", param=field)
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"Invalid type for '{field}': expected a string.", param=field)
    return value


def _roles_field(payload: dict[str, Any]) -> tuple[str, ...]:
    roles = payload.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise InvalidRequest("Invalid type for 'roles': expected an array of strings.", param="roles")
    return tuple(roles)


@get("/admin/keys")
async def list_api_keys(request: AnyRequest, department: FromQuery[str | None] = None) -> dict[str, Any]:
    """The keys of one department (the caller's by default; `*` for all, platform admins only)."""
    gateway = gateway_of(request)
    principal = await gateway.principal(request)
    target = department or principal.department
    _require_admin(gateway, principal, target)
    assert gateway.key_store is not None
    try:
        records = await list_keys(gateway.key_store, None if target == _EVERY_DEPARTMENT else target)
    except InvalidKeyRequest as exc:
        raise InvalidRequest(str(exc), param="department") from None
    now = time.time()
    return {"object": "list", "data": [record_summary(record, now) for record in records]}


@post("/admin/keys", status_code=201)
async def create_api_key(request: AnyRequest) -> dict[str, Any]:
    """Create a key; the answer is the only place the key ever appears."""
    gateway = gateway_of(request)
    principal = await gateway.principal(request)
    payload = decode_json_object(await request.body())
    department = _string_field(payload, "department") or principal.department
    service = _string_field(payload, "service", required=True)
    roles = _roles_field(payload)
    expires = _string_field(payload, "expires_in")
    label = _string_field(payload, "label") or ""
    _require_admin(gateway, principal, department)
    if PLATFORM_ROLE in roles and not _is_platform_admin(principal):
        raise PermissionDenied(ANY_MODEL, ADMIN)
    assert gateway.key_store is not None and gateway.pepper is not None and service is not None
    try:
        # What the key will carry (`user` when none is given) is what the grant check must see.
        roles = validate_roles(roles)
    except InvalidKeyRequest as exc:
        raise InvalidRequest(str(exc), param="roles") from None
    _check_grant(gateway, principal, roles)
    try:
        expires_in = parse_duration(expires) if expires is not None else None
        record, key = await create_key(
            gateway.key_store, gateway.pepper, department, service, roles, expires_in, label
        )
    except InvalidKeyRequest as exc:
        raise InvalidRequest(str(exc)) from None
    return {"key": key, **record_summary(record, time.time())}


@delete("/admin/keys/{key_id:str}", status_code=200)
async def revoke_api_key(request: AnyRequest, key_id: FromPath[str]) -> dict[str, Any]:
    """Revoke a key; every worker and replica refuses it within a second."""
    gateway = gateway_of(request)
    principal = await gateway.principal(request)
    assert gateway.key_store is not None
    try:
        record = await gateway.key_store.get(key_id_from(key_id))
    except InvalidKeyRequest as exc:
        raise InvalidRequest(str(exc), param="key_id") from None
    # An unknown key and another department's key look the same to a department admin.
    if record is None or (record.department != principal.department and not _is_platform_admin(principal)):
        raise KeyNotFound("No such key.", param="key_id")
    _require_admin(gateway, principal, record.department)
    try:
        revoked = await revoke_key(gateway.key_store, record.id)
    except UnknownKey:
        raise KeyNotFound("No such key.", param="key_id") from None
    return record_summary(revoked, time.time())


@get("/admin/requests/{request_id:str}")
async def request_record(request: AnyRequest, request_id: FromPath[str]) -> dict[str, Any]:
    """One request's audit record, for administrators of its department (and platform admins).

    A record of another department answers 404, like a missing one: its existence is not shown."""
    gateway = gateway_of(request)
    principal = await gateway.principal(request)
    gateway.authorizer.authorize(
        principal.department, principal.service, principal.roles, ANY_MODEL, USAGE_READ
    )
    missing = RequestNotFound(f"No audit record for request `{request_id}`.", param="request_id")
    if not is_request_id(request_id):
        raise missing
    if gateway.audit is not None:
        await gateway.audit.flush()  # this worker's latest records are on disk
    try:
        record = await asyncio.to_thread(find_record, gateway.config.audit, request_id)
    except AuditNotSearchable:
        raise RecordsNotSearchable() from None
    if record is None or (
        record.get("department") != principal.department and not _is_platform_admin(principal)
    ):
        raise missing
    return record


@get("/admin/usage")
async def usage(
    request: AnyRequest,
    period: FromQuery[str | None] = None,
    by: FromQuery[str] = "department",
    department: FromQuery[str | None] = None,
) -> dict[str, Any]:
    """Usage report of one month (`period=2026-11`, the current one by default): the caller's own
    department unless a platform administrator asks for another one or for every one (`*`)."""
    gateway = gateway_of(request)
    principal = await gateway.principal(request)
    target = department or principal.department
    if target != principal.department and not _is_platform_admin(principal):
        raise PermissionDenied(ANY_MODEL, USAGE_READ)
    domain = principal.department if target == _EVERY_DEPARTMENT else target
    gateway.authorizer.authorize(domain, principal.service, principal.roles, ANY_MODEL, USAGE_READ)
    assert gateway.recorder is not None
    try:
        return await admin_usage(
            gateway.recorder.store,
            period=period,
            by=by,
            department=None if target == _EVERY_DEPARTMENT else target,
        )
    except InvalidUsageQuery as exc:
        raise InvalidRequest(str(exc), param=exc.param) from None
    except UsageStoreError:
        raise UsageUnavailable() from None


def _policy_status(gateway: Gateway) -> dict[str, Any]:
    authorizer = gateway.authorizer
    error = gateway.reloader.last_error
    return {
        "version": authorizer.version,
        "loaded_at": authorizer.loaded_at,
        "digest": authorizer.digest,
        "last_error": str(error) if error is not None else None,
    }


@get("/admin/policy")
async def policy_status(request: AnyRequest) -> dict[str, Any]:
    """Which policy is in force, and why the last edit was refused if it was."""
    gateway = gateway_of(request)
    _require_admin(gateway, await gateway.principal(request), _EVERY_DEPARTMENT)
    return _policy_status(gateway)


@post("/admin/policy/reload", status_code=200)
async def reload_policy(request: AnyRequest) -> dict[str, Any]:
    """Re-read the policy files now instead of at the next check (this worker)."""
    gateway = gateway_of(request)
    principal = await gateway.principal(request)
    if not _is_platform_admin(principal):
        raise PermissionDenied(ANY_MODEL, ADMIN)
    _require_admin(gateway, principal, _EVERY_DEPARTMENT)
    try:
        await gateway.reloader.reload_now()
    except PolicyError as exc:
        raise PolicyInvalid(str(exc)) from None
    return _policy_status(gateway)


ADMIN_ROUTES = [
    request_record,
    list_api_keys,
    create_api_key,
    revoke_api_key,
    usage,
    policy_status,
    reload_policy,
]
