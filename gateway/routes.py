"""The OpenAI-compatible routes (one per declared operation) and the health probes."""

from __future__ import annotations

from typing import Any

from litestar import Response, Router, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.params import FromPath

from gateway.errors import ModelNotFound
from gateway.operations import OPERATIONS, Operation
from gateway.pipeline import Pipeline
from gateway.state import AnyRequest, gateway_of
from gateway.worker import worker_of

__all__ = ["FORM_FIELDS_BYTES", "OPERATION_ROUTES", "ROUTES", "operation_route", "upload_router"]

FORM_FIELDS_BYTES = 1024 * 1024
"""What an upload's body may hold besides its file: the form's text fields and part headers."""


def _pipeline(request: AnyRequest) -> Pipeline:
    return worker_of(request).pipeline


def operation_route(operation: Operation) -> HTTPRouteHandler:
    """The POST handler of one declared operation: every step after routing is the pipeline's."""

    async def serve(request: AnyRequest) -> Response[Any]:
        return await _pipeline(request).handle(operation, request)

    serve.__name__ = serve.__qualname__ = f"serve_{operation.value}"  # for tracebacks and logs
    # The error handlers read the declaration's error shape from the matched handler's `opt`.
    return post(list(operation.routes), status_code=200, opt={"error_format": operation.error_format})(serve)


OPERATION_ROUTES = [operation_route(operation) for operation in OPERATIONS if not operation.multipart]
"""One handler per declaration in the registry (gateway/operations/) whose body is JSON."""


def upload_router(max_file_bytes: int) -> Router:
    """The handlers of the multipart operations, under their own body limit: an audio file
    (`server.max_audio_bytes`) is larger than any JSON body has to be (`server.max_body_bytes`)."""
    handlers = [operation_route(operation) for operation in OPERATIONS if operation.multipart]
    return Router("/", route_handlers=handlers, request_max_body_size=max_file_bytes + FORM_FIELDS_BYTES)


async def _visible_models(request: AnyRequest) -> list[str]:
    gateway = gateway_of(request)
    principal = await worker_of(request).principal(request)
    return gateway.authorizer.visible_models(
        principal.department, principal.service, principal.roles, gateway.pools.keys()
    )


@get("/v1/models", tags=["Models"], summary="The models this key may use.")
async def list_models(request: AnyRequest) -> dict[str, Any]:
    """Only the models the caller's policies let it use."""
    gateway = gateway_of(request)
    visible = await _visible_models(request)
    return {"object": "list", "data": [gateway.model_card(gateway.pools[name]) for name in visible]}


@get("/v1/models/{model_id:path}", tags=["Models"], summary="One model's card, if this key may use it.")
async def retrieve_model(request: AnyRequest, model_id: FromPath[str]) -> dict[str, Any]:
    # A model the caller may not use is answered like one that does not exist: no oracle.
    name = model_id.lstrip("/")
    gateway = gateway_of(request)
    if name not in await _visible_models(request):
        raise ModelNotFound(name)
    return gateway.model_card(gateway.pools[name])


@get("/health/live", tags=["Health"], summary="The process is up (liveness probe).")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@get(
    "/health/ready",
    tags=["Health"],
    summary="Whether each model has a healthy backend (readiness probe).",
    # 503 (with the same body) when no model has one: a state, not an error of the catalogue.
    responses={
        503: ResponseSpec(
            dict[str, Any], description="No model has a healthy backend.", generate_examples=False
        )
    },
)
async def ready(request: AnyRequest) -> Response[dict[str, Any]]:
    """Ready when at least one model has a healthy backend; `models` says which ones can be served.

    Not "every model": a model whose backends are all down is down for every replica alike, and taking
    every replica out of the Service would refuse the clients of the models that still work."""
    pools = gateway_of(request).pools
    models = {name: pool.has_available() for name, pool in pools.items()}
    ok = any(models.values())
    status = "ready" if all(models.values()) else "degraded" if ok else "unavailable"
    return Response({"status": status, "models": models}, status_code=200 if ok else 503)


ROUTES = [*OPERATION_ROUTES, list_models, retrieve_model, live, ready]
