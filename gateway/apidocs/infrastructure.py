"""The typed routes' part of the reference (the models, the health probes, the admin API), as
Litestar's own OpenAPI generation writes it, then put in the gateway's terms.

Litestar generates it from a separate application holding only those routes, built once: the
gateway's own application keeps `openapi_config=None`, so it serves none of Litestar's schema pages
(whose renderers load scripts from CDNs). A new route of gateway/routes.py (other than a declared
operation's) or of the admin API appears here without an edit; one without a tag is taken for an
inference route. Litestar cannot know three things, which are set here: the errors are the gateway's (not Litestar's
validation error), the key each route needs, and the body of `POST /admin/keys`, which its handler
parses itself.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig

from gateway.admin import admin_router
from gateway.admin.keys import CREATE_KEY_SCHEMA
from gateway.apidocs.inference import INFERENCE_TAGS
from gateway.apidocs.responses import INFERENCE_ERRORS, error_responses, security
from gateway.batches.routes import (
    BATCH_ROUTES,
    CREATE_BATCH_SCHEMA,
    UPLOAD_FILE_SCHEMA,
    list_files,
    upload_file,
)
from gateway.operations import ErrorFormat
from gateway.routes import OPERATION_ROUTES, ROUTES
from gateway.stored_responses.routes import STORED_RESPONSE_ROUTES

__all__ = ["INFRASTRUCTURE_TAGS", "infrastructure_paths"]

Json = dict[str, Any]

INFRASTRUCTURE_TAGS = {
    "Models": "The models a key may use, with the operations each serves.",
    "Admin": "Keys, usage, request records and the policy, for the roles the policy allows.",
    "Health": "Probes for the orchestrator; no key needed.",
    "Files": "Batch input files (JSONL, checked line by line at upload) and batch results, per department.",
    "Batches": "Batch jobs the gateway runs line by line through its pipeline, at the lowest priority.",
}

# The errors each tag's routes may answer, all in OpenAI's shape; a route of gateway/routes.py
# without a tag is an inference route (a stored response's, say) and answers theirs.
_ERRORS = {
    "Models": (401, 404, 429, 503),
    "Admin": (400, 401, 403, 404, 422, 429, 500, 503),
    "Health": (),
    "Files": (400, 401, 404, 413, 503),
    "Batches": (400, 401, 404, 503),
}
_DEFAULT_TAG = INFERENCE_TAGS[ErrorFormat.OPENAI][0]
_PUBLIC = frozenset({"Health"})
_BODIES = {
    "create_api_key": ("application/json", CREATE_KEY_SCHEMA),
    "create_batch": ("application/json", CREATE_BATCH_SCHEMA),
    "upload_file": ("multipart/form-data", UPLOAD_FILE_SCHEMA),
}
"""Request bodies by operation id, for the handlers that parse theirs themselves."""


def _handler_name(handler: HTTPRouteHandler, *_: Any) -> str:
    return handler.handler_name  # stable, unique, and greppable in the code


def _generated() -> Json:
    app = Litestar(
        # Every route of gateway/routes.py but the declared operations', which are inference.py's.
        route_handlers=[
            *(handler for handler in ROUTES if handler not in OPERATION_ROUTES),
            *STORED_RESPONSE_ROUTES,
            *BATCH_ROUTES,
            upload_file,
            list_files,
            admin_router(),
        ],
        openapi_config=OpenAPIConfig(
            title="-",
            version="-",
            use_handler_docstrings=True,
            operation_id_creator=_handler_name,
            render_plugins=[],
        ),
        # Never served: it must leave the process's logging alone (Litestar's default configuration
        # replaces the handlers and levels the gateway set, and its debug lines were lost).
        logging_config=None,
    )
    paths: Json = app.openapi_schema.to_schema()["paths"]
    return paths


def _in_gateway_terms(operation: Json) -> Json:
    tag = operation.setdefault("tags", [_DEFAULT_TAG])[0]
    responses = {
        # Litestar's own validation error becomes the gateway's 400 (gateway/error_handlers.py).
        status: answer
        for status, answer in operation["responses"].items()
        if status.startswith("2") or status == "503"
    }
    errors = _ERRORS.get(tag, INFERENCE_ERRORS)
    responses.update(error_responses(status for status in errors if str(status) not in responses))
    operation = {**operation, "responses": dict(sorted(responses.items()))}
    operation.pop("deprecated", None)  # Litestar writes `false` everywhere: noise in the reference
    if tag not in _PUBLIC:
        operation["security"] = security()
    body = _BODIES.get(operation["operationId"])
    if body is not None:
        media_type, schema = body
        operation["requestBody"] = {"required": True, "content": {media_type: {"schema": schema}}}
    return operation


def infrastructure_paths() -> Json:
    """`paths` entries of the models, health and admin routes."""
    return {
        path: {method: _in_gateway_terms(operation) for method, operation in item.items()}
        for path, item in _generated().items()
    }
