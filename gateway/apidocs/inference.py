"""The inference routes' part of the reference, written from the operation declarations.

Their handlers are generic (gateway/routes.py), so Litestar cannot infer anything from them: each
declaration's `summary`, `body_schema`, `error_format` and `key_header` say it instead, and a new
declaration appears here without an edit.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from gateway.apidocs.responses import INFERENCE_ERRORS, error_responses, security
from gateway.operations import ErrorFormat, Operation
from gateway.parsing import MODEL_NAME_MAX_CHARS

__all__ = ["INFERENCE_TAGS", "inference_paths", "is_streamed", "request_schema"]

Json = dict[str, Any]

INFERENCE_TAGS = {
    ErrorFormat.OPENAI: (
        "Inference",
        "OpenAI-compatible routes, and vLLM's own (rerank, score, pooling...).",
    ),
    ErrorFormat.ANTHROPIC: (
        "Anthropic",
        "Anthropic's Messages API, for Anthropic's clients: its errors' shape.",
    ),
}
"""The tag of an operation, by the API whose clients it serves (which its `error_format` says)."""

_MODEL = {
    "type": "string",
    "minLength": 1,
    "maxLength": MODEL_NAME_MAX_CHARS,
    "description": "A model of the gateway's configuration that the key may use (`GET /v1/models`).",
}
_OPEN_BODY: Json = {"type": "object", "additionalProperties": True}


def request_schema(operation: Operation) -> Json:
    """The declaration's body schema, with the `model` every operation requires."""
    schema = copy.deepcopy(dict(operation.body_schema or _OPEN_BODY))
    schema["properties"] = {"model": _MODEL, **schema.get("properties", {})}
    schema["required"] = ["model", *schema.get("required", [])]
    return schema


def is_streamed(operation: Operation) -> bool:
    """Whether the operation answers a stream when asked: its body schema has a `stream` field."""
    return "stream" in (operation.body_schema or {}).get("properties", {})


def _success(operation: Operation) -> Json:
    content: Json = {"application/json": {"schema": {"type": "object"}}}
    description = "The backend's answer, relayed (placeholders of pseudonymized data restored)."
    if is_streamed(operation):
        content["text/event-stream"] = {"schema": {"type": "string"}}
        description += " With `stream: true`, server-sent events (`text/event-stream`) as they come."
    return {"description": description, "content": content}


def _body_media_type(operation: Operation) -> str:
    """An upload is a form (its file a binary part); every other body is JSON."""
    return "multipart/form-data" if operation.multipart else "application/json"


def _operation_id(operation: Operation, path: str) -> str:
    """The policy action for the first route; the action and the path for the others (rerank's
    `/rerank` and `/v2/rerank`), as an operation id is unique in a document."""
    if path == operation.routes[0]:
        return operation.value
    return f"{operation.value}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_')}"


def _path_item(operation: Operation, path: str) -> Json:
    return {
        "post": {
            "tags": [INFERENCE_TAGS[operation.error_format][0]],
            "summary": operation.summary,
            "description": (
                f"Checked, authorized (policy action `{operation.value}`), scanned for personal data and "
                f"charged by the gateway, then forwarded to the backend's `{operation.upstream_path}`. "
                "Fields the gateway does not check go to the backend as sent."
            ),
            "operationId": _operation_id(operation, path),
            "x-policy-action": operation.value,
            "security": security(operation.key_header),
            "requestBody": {
                "required": True,
                "content": {_body_media_type(operation): {"schema": request_schema(operation)}},
            },
            "responses": {
                "200": _success(operation),
                **error_responses(INFERENCE_ERRORS, operation.error_format),
            },
        }
    }


def inference_paths(operations: Iterable[Operation]) -> Json:
    """`paths` entries of every route of every operation, in the registry's order."""
    return {path: _path_item(operation, path) for operation in operations for path in operation.routes}
