"""Errors written in the shape a route's clients read, as its operation's `error_format` declares.

The gateway's errors (`gateway/errors.py`) carry OpenAI's type and code; a route declared with
`ErrorFormat.ANTHROPIC` writes the same error as Anthropic does, `{"type": "error", "error": {"type",
"message"}}`, its type chosen by the HTTP status (the status itself is kept). Three places write
errors, each through one function here: the application's handlers (`render_error`), a backend's
error answer relayed by the pipeline (`relayed_error`) and a stream's error event (`stream_error_event`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.errors import GatewayError, error_body
from gateway.operations.base import ErrorFormat

__all__ = [
    "anthropic_error_body",
    "anthropic_error_type",
    "relayed_error",
    "render_error",
    "stream_error_event",
]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",  # no backend can take it now: what Anthropic calls being overloaded
    529: "overloaded_error",
}
# A backend's message longer than this is cut: it is read by a person, and may quote the request.
_MESSAGE_CHARS = 2000


def anthropic_error_type(status: int) -> str:
    """Anthropic's error type for an HTTP status."""
    known = _ANTHROPIC_TYPES.get(status)
    if known is not None:
        return known
    return "invalid_request_error" if status < 500 else "api_error"


def anthropic_error_body(status: int, message: str) -> bytes:
    return _encode({"type": "error", "error": {"type": anthropic_error_type(status), "message": message}})


def render_error(exc: GatewayError, error_format: ErrorFormat) -> bytes:
    """The body of a gateway error on a route whose operation declares `error_format`."""
    if error_format is ErrorFormat.ANTHROPIC:
        return anthropic_error_body(exc.status_code, exc.message)
    return exc.body()


def _backend_message(body: bytes) -> str:
    """The message of a backend's error, whichever shape vLLM used for it: Anthropic's or OpenAI's
    `error.message`, FastAPI's `detail`, or the text itself."""
    try:
        document: Any = _decode(body)
    except msgspec.DecodeError:
        text = body.decode("utf-8", "replace").strip()
        return text[:_MESSAGE_CHARS] or "The backend refused the request."
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:_MESSAGE_CHARS]
        for candidate in (error, document.get("detail"), document.get("message")):
            if isinstance(candidate, str):
                return candidate[:_MESSAGE_CHARS]
            if candidate is not None:
                return _encode(candidate).decode()[:_MESSAGE_CHARS]
    return "The backend refused the request."


def relayed_error(error_format: ErrorFormat, status: int, body: bytes) -> bytes:
    """A backend's error answer as the route's clients read it. vLLM writes the Messages API's
    serving errors in Anthropic's shape but with its own class names as types (`BadRequestError`),
    and its schema errors in OpenAI's shape: both become Anthropic's, typed by the status."""
    if error_format is ErrorFormat.ANTHROPIC:
        return anthropic_error_body(status, _backend_message(body))
    return body


def stream_error_event(error_format: ErrorFormat, message: str, code: str) -> bytes:
    """The event that ends a stream the gateway cannot complete (the backend failed or timed out)."""
    if error_format is ErrorFormat.ANTHROPIC:  # Anthropic's events carry no code: its type says api_error
        return b"event: error\ndata: " + anthropic_error_body(500, message) + b"\n\n"
    return b"data: " + error_body(message, "server_error", code=code) + b"\n\ndata: [DONE]\n\n"
