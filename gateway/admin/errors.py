"""The admin API's errors (drawn in the catalogue of gateway/errors.py), and the one place where the
errors of key management, metering, the audit log and the policy become them.

Handlers let `InvalidKeyRequest`, `UnknownKey`, `InvalidUsageQuery`, `UsageStoreError`,
`AuditNotSearchable` and `PolicyError` through; the router's exception handlers built here answer
them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Response
from litestar.types import ExceptionHandlersMap

from gateway.audit.lookup import AuditNotSearchable
from gateway.authz import PolicyError
from gateway.error_handlers import error_response
from gateway.errors import GatewayError, InvalidRequest
from gateway.identity import InvalidKeyRequest, UnknownKey
from gateway.metering import InvalidUsageQuery, UsageStoreError
from gateway.state import AnyRequest

__all__ = [
    "GrantDenied",
    "KeyNotFound",
    "PolicyInvalid",
    "RecordsNotSearchable",
    "RequestNotFound",
    "UsageUnavailable",
    "admin_error_handlers",
]


class RequestNotFound(GatewayError):
    """404: no audit record of this request that the caller may see (another department's looks missing)."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "request_not_found"

    def __init__(self, request_id: str) -> None:
        super().__init__(f"No audit record for request `{request_id}`.", param="request_id")


class GrantDenied(GatewayError):
    """403: the roles asked for a new key reach further than the caller's own key."""

    status_code = 403
    error_type = "invalid_request_error"
    code = "permission_denied"


class KeyNotFound(GatewayError):
    """404: no such key, or one of a department the caller does not administer."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "key_not_found"

    def __init__(self) -> None:
        super().__init__("No such key.", param="key_id")


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


def _invalid_key(exc: InvalidKeyRequest) -> GatewayError:
    return InvalidRequest(str(exc), param=exc.param)


def _unknown_key(_: UnknownKey) -> GatewayError:
    return KeyNotFound()


def _invalid_query(exc: InvalidUsageQuery) -> GatewayError:
    return InvalidRequest(str(exc), param=exc.param)


def _usage_store(_: UsageStoreError) -> GatewayError:
    return UsageUnavailable()


def _not_searchable(_: AuditNotSearchable) -> GatewayError:
    return RecordsNotSearchable()


def _policy(exc: PolicyError) -> GatewayError:
    return PolicyInvalid(str(exc))


_MAPPING: dict[type[Exception], Callable[[Any], GatewayError]] = {
    InvalidKeyRequest: _invalid_key,
    UnknownKey: _unknown_key,
    InvalidUsageQuery: _invalid_query,
    UsageStoreError: _usage_store,
    AuditNotSearchable: _not_searchable,
    PolicyError: _policy,
}


def _answer(mapped: Callable[[Any], GatewayError]) -> Callable[[AnyRequest, Exception], Response[bytes]]:
    def handle(request: AnyRequest, exc: Exception) -> Response[bytes]:
        return error_response(request, mapped(exc))

    return handle


def admin_error_handlers() -> ExceptionHandlersMap:
    """The admin router's exception handlers; the application's answer every other error."""
    return {kind: _answer(mapped) for kind, mapped in _MAPPING.items()}
