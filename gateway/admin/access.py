"""Who is calling the admin API, and what they may administer.

The router's guard authenticates every call once, before anything else is read, and leaves the key
in the connection's `user` (Litestar's place for it); handlers receive it as their `principal`
parameter and never authenticate themselves.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from gateway.admin.errors import GrantDenied
from gateway.authz import ADMIN, ANY_MODEL, PermissionDenied, grant_refusal
from gateway.identity import Principal
from gateway.state import Gateway
from gateway.worker import worker_of

__all__ = [
    "EVERY_DEPARTMENT",
    "PLATFORM_ROLE",
    "authenticated",
    "check_grant",
    "is_platform_admin",
    "principal_of",
    "require_admin",
]

PLATFORM_ROLE = "admin"
EVERY_DEPARTMENT = "*"


async def authenticated(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The guard of every admin route: the caller's key, or 401."""
    # The admin API has HTTP routes only: its connections are requests.
    assert isinstance(connection, Request)
    connection.scope["user"] = await worker_of(connection).principal(connection)


def principal_of(request: Request[Principal, Any, Any]) -> Principal:
    """The `principal` dependency: the key the guard authenticated."""
    return request.user


def is_platform_admin(principal: Principal) -> bool:
    return principal.department == EVERY_DEPARTMENT or PLATFORM_ROLE in principal.roles


def require_admin(gateway: Gateway, principal: Principal, department: str) -> None:
    """403 unless the caller may administer `department` (`*`: every department)."""
    if department != principal.department and not is_platform_admin(principal):
        raise PermissionDenied(ANY_MODEL, ADMIN)
    domain = principal.department if department == EVERY_DEPARTMENT else department
    gateway.authorizer.authorize(domain, principal.service, principal.roles, ANY_MODEL, ADMIN)


def check_grant(gateway: Gateway, principal: Principal, roles: tuple[str, ...]) -> None:
    """403 unless the caller may give a key these roles (platform administrators always may)."""
    if is_platform_admin(principal):
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
