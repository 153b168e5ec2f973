"""The `/admin` Router: every route behind the authentication guard, with the caller's `principal`
and the `worker` as dependencies, and the management errors mapped in one place."""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from gateway.admin.access import authenticated, principal_of
from gateway.admin.errors import admin_error_handlers
from gateway.admin.keys import KEY_ROUTES
from gateway.admin.policy import POLICY_ROUTES
from gateway.admin.records import RECORD_ROUTES
from gateway.worker import worker_of

__all__ = ["admin_router"]


def admin_router() -> Router:
    """A router for one application (each app gets its own, as Litestar binds a router to its owner)."""
    return Router(
        path="/admin",
        route_handlers=[*RECORD_ROUTES, *KEY_ROUTES, *POLICY_ROUTES],
        guards=[authenticated],
        dependencies={
            "principal": Provide(principal_of, sync_to_thread=False),
            "worker": Provide(worker_of, sync_to_thread=False),
        },
        exception_handlers=admin_error_handlers(),
        tags=["Admin"],  # its routes' group in the API reference (gateway/apidocs/)
    )
