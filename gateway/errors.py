"""Errors the gateway answers with, always in OpenAI's shape: the catalogue of what clients can see.

Every failure a client can see is one of the classes below, answered with this status, OpenAI `type`
and `code` (`-`: none; a class listed on several lines chooses per refusal). Third-party exceptions
are mapped to them at one boundary where they occur (request parsing, the upstream call, the
application's and the admin API's exception handlers), never further in. One class per status and
meaning, so that no instance has its status changed after the fact. A test checks this table
against the classes (status, type, code and parent), so neither can drift from the other.

    class                          HTTP type                   code                        meaning
    GatewayError                   500  server_error           -                           (base)
    ├── InvalidRequest             400  invalid_request_error  -                           body or parameter
    │   ├── PiiBlocked             400  invalid_request_error  pii_detected                personal data
    │   ├── BatchInputInvalid      400  invalid_request_error  invalid_batch_input         names its lines
    │   └── InvalidPriority        400  invalid_request_error  invalid_priority            x-gateway-priority
    ├── ClientError                4xx  invalid_request_error  -                           other Litestar 4xx
    ├── AuthenticationFailed       401  invalid_request_error  invalid_api_key             every bad key alike
    ├── PermissionDenied           403  invalid_request_error  permission_denied           policy refuses
    ├── GrantDenied                403  invalid_request_error  permission_denied           roles beyond own
    ├── ModelNotFound              404  invalid_request_error  model_not_found             or not visible
    ├── UnknownRoute               404  invalid_request_error  unknown_url                 no such route
    ├── KeyNotFound                404  invalid_request_error  key_not_found               admin API
    ├── RequestNotFound            404  invalid_request_error  request_not_found           no audit record
    ├── ResponseNotFound           404  invalid_request_error  response_not_found          or another's
    ├── FileNotFound               404  invalid_request_error  file_not_found              or another's
    ├── BatchNotFound              404  invalid_request_error  batch_not_found             or another's
    ├── MethodNotAllowed           405  invalid_request_error  method_not_allowed          other method
    ├── RequestTimeout             408  invalid_request_error  request_timeout             request too slow
    ├── PayloadTooLarge            413  invalid_request_error  request_too_large           body too large
    │   └── PiiDetectionTimeout    413  invalid_request_error  pii_detection_timeout       too long to check
    ├── PolicyInvalid              422  invalid_request_error  policy_invalid              reload refused
    ├── TooManyFailedAttempts      429  requests               rate_limit_exceeded         failed keys
    ├── QuotaExceeded              429  insufficient_quota     insufficient_quota          budget spent
    ├── QuotaExceeded              429  tokens                 rate_limit_exceeded         tokens per minute
    ├── QuotaExceeded              429  requests               rate_limit_exceeded         requests, in flight
    ├── PoolSaturated              429  requests               pool_saturated              backends all busy
    ├── HeadersTooLarge            431  invalid_request_error  request_headers_too_large   header bytes
    ├── InternalError              500  server_error           internal_error              unexpected failure
    ├── PiiDetectionFailed         500  server_error           pii_detection_failed        fail closed
    ├── RecordsNotSearchable       500  server_error           audit_not_searchable        audit not in a file
    ├── UsageUnavailable           500  server_error           usage_unavailable           usage store failed
    ├── ServerFailure              5xx  server_error           -                           other Litestar 5xx
    ├── UpstreamFailure            502  server_error           upstream_error              backend failed
    │   └── UpstreamAnswerTooLarge 502  server_error           upstream_response_too_large answer too large
    ├── BackendUnavailable         503  server_error           backend_unavailable         no healthy backend
    │   └── NoBackendToWaitFor     503  server_error           backend_unavailable         none to queue for
    ├── AuthenticationUnavailable  503  server_error           authentication_unavailable  key store down
    ├── QuotaUnavailable           503  server_error           quota_unavailable           quota store down
    ├── ResponseStoreUnavailable   503  server_error           response_store_unavailable  homes unreadable
    ├── BatchStoreUnavailable      503  server_error           batch_store_unavailable     batches unreadable
    └── UpstreamTimeout            504  server_error           upstream_timeout            backend too slow

The classes live next to what raises them: errors.py, gateway/admission/errors.py (and its
scheduler.py), gateway/identity/errors.py,
gateway/authz/errors.py, gateway/pii/errors.py, gateway/quotas/errors.py, gateway/admin/errors.py,
gateway/stored_responses/errors.py, gateway/batches/errors.py.
The console answers HTML pages of its own instead (gateway/console/render.py).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "BackendUnavailable",
    "ClientError",
    "GatewayError",
    "HeadersTooLarge",
    "InternalError",
    "InvalidRequest",
    "MethodNotAllowed",
    "ModelNotFound",
    "PayloadTooLarge",
    "RequestTimeout",
    "ServerFailure",
    "UnknownRoute",
    "UpstreamAnswerTooLarge",
    "UpstreamFailure",
    "UpstreamTimeout",
    "error_body",
]

_encode = msgspec.json.Encoder().encode


def error_body(message: str, error_type: str, *, param: str | None = None, code: str | None = None) -> bytes:
    """Serialize OpenAI's error envelope: `{"error": {"message", "type", "param", "code"}}`."""
    return _encode({"error": {"message": message, "type": error_type, "param": param, "code": code}})


class GatewayError(Exception):
    """An error with the HTTP status, OpenAI type and code that the client receives."""

    status_code: int = 500
    error_type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers = headers or {}

    def body(self) -> bytes:
        return error_body(self.message, self.error_type, param=self.param, code=self.code)

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "type": self.error_type, "param": self.param, "code": self.code}


class InvalidRequest(GatewayError):
    status_code = 400
    error_type = "invalid_request_error"


class ModelNotFound(GatewayError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model `{model}` does not exist or you do not have access to it.", param="model"
        )


class ClientError(GatewayError):
    """A 4xx that Litestar refused with and that no class below means (its status is kept)."""

    status_code = 400
    error_type = "invalid_request_error"

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class UnknownRoute(GatewayError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "unknown_url"

    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"Unknown request URL: {method} {path}. Please check the URL for typos.")


class MethodNotAllowed(GatewayError):
    status_code = 405
    error_type = "invalid_request_error"
    code = "method_not_allowed"

    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"Method {method} is not allowed on {path}.")


class RequestTimeout(GatewayError):
    """408: the request's headers or body did not arrive in time (gateway/http_protocol.py)."""

    status_code = 408
    error_type = "invalid_request_error"
    code = "request_timeout"


class PayloadTooLarge(GatewayError):
    status_code = 413
    error_type = "invalid_request_error"
    code = "request_too_large"


class HeadersTooLarge(GatewayError):
    """431: the request line and headers exceed `server.max_header_bytes` (gateway/http_protocol.py)."""

    status_code = 431
    error_type = "invalid_request_error"
    code = "request_headers_too_large"


class InternalError(GatewayError):
    """500: an exception nothing mapped; its message is not repeated, as it may quote the request."""

    status_code = 500
    error_type = "server_error"
    code = "internal_error"

    def __init__(self) -> None:
        super().__init__("The gateway failed to process the request.")


class ServerFailure(GatewayError):
    """A 5xx that Litestar answered with (its status is kept), said without Litestar's detail."""

    status_code = 500
    error_type = "server_error"

    def __init__(self, status_code: int) -> None:
        super().__init__("The gateway failed to process the request.")
        self.status_code = status_code


class BackendUnavailable(GatewayError):
    status_code = 503
    error_type = "server_error"
    code = "backend_unavailable"


class UpstreamTimeout(GatewayError):
    status_code = 504
    error_type = "server_error"
    code = "upstream_timeout"


class UpstreamFailure(GatewayError):
    status_code = 502
    error_type = "server_error"
    code = "upstream_error"


class UpstreamAnswerTooLarge(UpstreamFailure):
    code = "upstream_response_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The backend's answer is larger than the {limit} bytes the gateway accepts for a non-streamed "
            "answer; ask for less (fewer choices, fewer tokens) or stream it (`stream: true`)."
        )
