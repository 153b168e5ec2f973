"""What every route of the reference shares: the error bodies (OpenAI's shape, or Anthropic's for the
operations that declare it), the error answers by status, and the ways a key is presented.

The statuses and their meanings are those of the catalogue in gateway/errors.py; the shapes are those
gateway/error_shapes.py writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.operations import ErrorFormat

__all__ = [
    "BEARER",
    "ERROR_SCHEMAS",
    "INFERENCE_ERRORS",
    "error_responses",
    "key_header_scheme",
    "security",
    "security_schemes",
]

Json = dict[str, Any]

BEARER = "bearer"
"""The security scheme every authenticated route accepts: `Authorization: Bearer <key>`."""

_ERROR_SCHEMA_NAMES = {ErrorFormat.OPENAI: "Error", ErrorFormat.ANTHROPIC: "AnthropicError"}
_NULLABLE_STRING = {"type": ["string", "null"]}

ERROR_SCHEMAS: dict[str, Json] = {
    "Error": {
        "type": "object",
        "description": "OpenAI's error shape, in which the gateway writes its errors and relays vLLM's.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": {"type": "string", "description": "What went wrong, for a person."},
                    "type": {"type": "string", "description": "`invalid_request_error`, `server_error`..."},
                    "param": {**_NULLABLE_STRING, "description": "The request field at fault, if one is."},
                    "code": {**_NULLABLE_STRING, "description": "`invalid_api_key`, `model_not_found`..."},
                },
            }
        },
    },
    "AnthropicError": {
        "type": "object",
        "description": "Anthropic's error shape, typed by the HTTP status, for Anthropic's clients.",
        "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {
                    "type": {
                        "type": "string",
                        "description": "`invalid_request_error`, `rate_limit_error`...",
                    },
                    "message": {"type": "string"},
                },
            },
        },
    },
}
"""`components.schemas` of the two error shapes."""

# What each status means on this gateway (gateway/errors.py's catalogue, in a line).
_MEANINGS = {
    400: "The body or a parameter is invalid, or the model does not serve this operation.",
    401: "No API key, or one that is unknown, revoked or expired.",
    403: "The policy does not let this key do this.",
    404: "No such model for this key (or no such resource).",
    413: "The body is larger than `server.max_body_bytes`, or too long to check for personal data.",
    422: "The policy files on disk cannot be loaded; the policy in force stays.",
    429: "A budget or rate limit is reached, or too many failed keys from this address.",
    500: "The gateway failed unexpectedly, or a store it needs cannot be read.",
    502: "The backend failed, or its answer is too large.",
    503: "No healthy backend for the model, or a store the gateway needs is unreachable.",
    504: "The backend did not answer in time.",
}

INFERENCE_ERRORS = (400, 401, 403, 404, 413, 429, 502, 503, 504)
"""The errors every inference route may answer."""


def error_responses(statuses: Iterable[int], error_format: ErrorFormat = ErrorFormat.OPENAI) -> Json:
    """The error answers of a route, by status, in the shape its clients read."""
    reference = {"$ref": f"#/components/schemas/{_ERROR_SCHEMA_NAMES[error_format]}"}
    return {
        str(status): {
            "description": _MEANINGS[status],
            "content": {"application/json": {"schema": reference}},
        }
        for status in statuses
    }


def key_header_scheme(header: str) -> str:
    """The name of the security scheme of a header carrying the key bare (the header's own name)."""
    return header


def security(key_header: str | None = None) -> list[Json]:
    """Either way of presenting the key an operation accepts (any one of them is enough)."""
    schemes: list[Json] = [{BEARER: []}]
    if key_header is not None:
        schemes.append({key_header_scheme(key_header): []})
    return schemes


def security_schemes(key_headers: Iterable[str]) -> Json:
    """`components.securitySchemes`: the bearer key, and each header some operation reads a key from."""
    schemes: Json = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key of the gateway (`gateway keys create`, or `POST /admin/keys`).",
        }
    }
    for header in sorted(set(key_headers)):
        schemes[key_header_scheme(header)] = {
            "type": "apiKey",
            "in": "header",
            "name": header,
            "description": f"The same API key, sent bare in `{header}` (when there is no `Authorization`).",
        }
    return schemes
