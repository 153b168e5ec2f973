"""The OpenAPI 3.1 document of what the gateway serves, assembled once per process.

It depends on no configuration (every route is served whatever the models are; a model that does
not serve an operation answers 400), so one process builds it once, at the first application's
start-up, and every request is answered with the same bytes.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

import gateway
from gateway.apidocs.inference import INFERENCE_TAGS, inference_paths
from gateway.apidocs.infrastructure import INFRASTRUCTURE_TAGS, infrastructure_paths
from gateway.apidocs.responses import ERROR_SCHEMAS, security_schemes
from gateway.operations import OPERATIONS

__all__ = ["document_bytes", "openapi_document"]

Json = dict[str, Any]

_DESCRIPTION = (
    "An OpenAI-compatible gateway in front of vLLM: every request is authenticated with an API key, "
    "authorized by policy, checked, scanned for personal data, charged on budgets and audited before "
    "a backend sees it. The request schemas name the fields the gateway itself checks; every other "
    "field goes to vLLM as sent (see OpenAI's, Anthropic's and vLLM's references for them)."
)


@functools.cache
def openapi_document() -> Json:
    """The whole document (built on the first call; callers must not modify it)."""
    tags = [
        *({"name": name, "description": text} for name, text in INFERENCE_TAGS.values()),
        *({"name": name, "description": text} for name, text in INFRASTRUCTURE_TAGS.items()),
    ]
    key_headers = [operation.key_header for operation in OPERATIONS if operation.key_header is not None]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sovereign inference gateway",
            "version": gateway.__version__,
            "description": _DESCRIPTION,
        },
        "tags": tags,
        "paths": {**inference_paths(OPERATIONS), **infrastructure_paths()},
        "components": {"schemas": ERROR_SCHEMAS, "securitySchemes": security_schemes(key_headers)},
    }


@functools.cache
def document_bytes() -> bytes:
    """The document as `GET /openapi.json` answers it."""
    return msgspec.json.encode(openapi_document())
