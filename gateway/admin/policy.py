"""The policy in force, and reloading it now."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency

from gateway.admin.access import EVERY_DEPARTMENT, is_platform_admin, require_admin
from gateway.authz import ADMIN, ANY_MODEL, PermissionDenied
from gateway.identity import Principal
from gateway.state import Gateway
from gateway.worker import Worker

__all__ = ["POLICY_ROUTES"]


def _policy_status(gateway: Gateway) -> dict[str, Any]:
    authorizer = gateway.authorizer
    error = gateway.reloader.last_error
    return {
        "version": authorizer.version,
        "loaded_at": authorizer.loaded_at,
        "digest": authorizer.digest,
        "last_error": str(error) if error is not None else None,
    }


@get("/policy", summary="The policy in force.")
async def policy_status(
    worker: NamedDependency[Worker], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    """Which policy is in force, and why the last edit was refused if it was."""
    require_admin(worker.gateway, principal, EVERY_DEPARTMENT)
    return _policy_status(worker.gateway)


@post("/policy/reload", status_code=200, summary="Reload the policy files now.")
async def reload_policy(
    worker: NamedDependency[Worker], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    """Re-read the policy files now instead of at the next check (this worker); 422 `PolicyInvalid`
    when they cannot be loaded."""
    if not is_platform_admin(principal):
        raise PermissionDenied(ANY_MODEL, ADMIN)
    require_admin(worker.gateway, principal, EVERY_DEPARTMENT)
    await worker.gateway.reloader.reload_now()
    return _policy_status(worker.gateway)


POLICY_ROUTES = [policy_status, reload_policy]
