"""Policies: the policy in force, read-only, and a check of one decision, as `gateway policy check`
prints it (decision, matched rule and its line, subjects). Platform administrators only: the rules
name every department."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.params import FromQuery
from litestar.response import Template

from gateway.authz import ACTIONS, ANY_MODEL, MODEL_ACTIONS, PolicySnapshot
from gateway.console.auth import signed_in
from gateway.console.i18n import LABELS
from gateway.console.render import language_of, page
from gateway.state import AnyRequest, gateway_of

__all__ = ["policies_page"]

_MAX_FIELD = 128


def _check(
    snapshot: PolicySnapshot, department: str, service: str, roles: str, model: str, operation: str
) -> dict[str, Any]:
    """What `gateway policy check` computes, on the snapshot in force."""
    if not department or not service:
        raise ValueError("department and service are required")
    if operation not in ACTIONS:
        raise ValueError(f"unknown operation {operation!r}")
    if not model and operation in MODEL_ACTIONS:
        raise ValueError(f"a model is required for {operation}")
    if any(len(value) > _MAX_FIELD for value in (department, service, roles, model)):
        raise ValueError("a field is too long")
    role_names = tuple(role.strip() for role in roles.split(",") if role.strip())
    decision = snapshot.decide(department, service, role_names, model or ANY_MODEL, operation)
    return {
        "allowed": decision.allowed,
        "rule": ", ".join(decision.rule) if decision.rule is not None else None,
        "line": snapshot.line_of(decision.rule) if decision.rule is not None else None,
        "held": ", ".join(snapshot.roles_held(service, department)) or "—",
        "roles": ", ".join(role_names) or "—",
    }


@get("/policies", name="console-policies")
async def policies_page(
    request: AnyRequest,
    department: FromQuery[str | None] = None,
    service: FromQuery[str | None] = None,
    roles: FromQuery[str | None] = None,
    model: FromQuery[str | None] = None,
    operation: FromQuery[str | None] = None,
) -> Template:
    admin = await signed_in(request)
    admin.require(admin.may_see_platform())
    gateway = gateway_of(request)
    snapshot = gateway.authorizer.snapshot
    labels = LABELS[language_of(request)]
    form = {
        "department": (department or "").strip(),
        "service": (service or "").strip(),
        "roles": (roles or "").strip(),
        "model": (model or "").strip(),
        "operation": (operation or "chat").strip(),
    }
    result = None
    check_error = None
    if operation is not None:
        try:
            result = _check(snapshot, **form)
        except ValueError as exc:
            check_error = labels["check_invalid"].format(reason=exc)
    error = gateway.reloader.last_error
    rules: list[tuple[int, str, tuple[str, ...]]] = [
        (permission.line, "p", tuple(permission.row)) for permission in snapshot.permissions
    ] + [(grant.line, "g", tuple(grant.row)) for grant in snapshot.grants]
    context = {
        "status": {
            "version": snapshot.version,
            "loaded_at": snapshot.loaded_at,
            "digest": snapshot.digest,
            "last_error": str(error) if error is not None else None,
            "files": [str(snapshot.model_file), str(snapshot.policy_file)],
        },
        "rules": sorted(rules),
        "form": form,
        "operations": sorted(ACTIONS),
        "models": sorted(gateway.pools),
        "result": result,
        "check_error": check_error,
    }
    return page(
        request, admin, "policies.html.j2", "policies_title", context, status_code=400 if check_error else 200
    )
