"""Errors the gateway answers with, always in OpenAI's shape.

Every failure a client can see is one of these; third-party exceptions are mapped to them at
the boundary where they occur (request parsing, the upstream call), never further in.

    GatewayError
    ├── InvalidRequest          400 invalid_request_error
    ├── ModelNotFound           404 model_not_found
    ├── PayloadTooLarge         413 request_too_large
    ├── BackendUnavailable      503 no healthy backend (with Retry-After)
    ├── UpstreamTimeout         504 the backend did not answer in time
    └── UpstreamFailure         502 the backend failed or misbehaved
        └── UpstreamAnswerTooLarge  502 a non-streamed answer beyond `upstream.max_response_bytes`
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "BackendUnavailable",
    "GatewayError",
    "InvalidRequest",
    "ModelNotFound",
    "PayloadTooLarge",
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


class PayloadTooLarge(GatewayError):
    status_code = 413
    error_type = "invalid_request_error"
    code = "request_too_large"


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
