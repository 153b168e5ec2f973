"""The Litestar application: routes, error handlers and the per-worker state they share."""

from __future__ import annotations

import logging
import os
import time
import traceback
from typing import Any

import httpx
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from gateway.config import GatewayConfig, load_config
from gateway.errors import GatewayError, InvalidRequest, ModelNotFound, PayloadTooLarge, error_body
from gateway.operations import Operation
from gateway.pipeline import Pipeline
from gateway.routing import HealthMonitor, ModelPool, build_pools
from gateway.upstream import Forwarder, create_upstream_client

__all__ = ["Gateway", "app_from_environment", "create_app"]

logger = logging.getLogger("gateway")

_JSON = "application/json"
AnyRequest = Request[Any, Any, Any]


class Gateway:
    """What one worker holds: the backend pools, the pooled client and the health monitor."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.pools: dict[str, ModelPool]
        self.pools, self.backends = build_pools(config)
        self.started_at = int(time.time())
        self._client: httpx.AsyncClient | None = None
        self._health: HealthMonitor | None = None
        self.pipeline: Pipeline | None = None

    async def startup(self) -> None:
        # The client is created on the worker's own event loop, once, and shared by every request.
        self._client = create_upstream_client(self.config.upstream)
        self.pipeline = Pipeline(self.pools, Forwarder(self._client, self.config.health))
        self._health = HealthMonitor(self._client, self.backends, self.config.health)
        self._health.start()

    async def shutdown(self) -> None:
        if self._health is not None:
            await self._health.stop()
        if self._client is not None:
            await self._client.aclose()

    def model_card(self, pool: ModelPool) -> dict[str, Any]:
        card: dict[str, Any] = {
            "id": pool.name,
            "object": "model",
            "created": self.started_at,
            "owned_by": "sovereign-gateway",
        }
        for backend in pool.backends:
            upstream = backend.model_cards.get(pool.name)
            if upstream is not None:
                card["root"] = upstream.get("root")
                card["max_model_len"] = upstream.get("max_model_len")
                break
        return card


def _gateway(request: AnyRequest) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _pipeline(request: AnyRequest) -> Pipeline:
    pipeline = _gateway(request).pipeline
    assert pipeline is not None, "the gateway has not started"
    return pipeline


@post("/v1/chat/completions", status_code=200)
async def chat_completions(request: AnyRequest) -> Response[Any]:
    return await _pipeline(request).handle(Operation.CHAT, request)


@post("/v1/completions", status_code=200)
async def completions(request: AnyRequest) -> Response[Any]:
    return await _pipeline(request).handle(Operation.COMPLETIONS, request)


@post("/v1/embeddings", status_code=200)
async def embeddings(request: AnyRequest) -> Response[Any]:
    return await _pipeline(request).handle(Operation.EMBEDDINGS, request)


@post("/v1/responses", status_code=200)
async def responses(request: AnyRequest) -> Response[Any]:
    return await _pipeline(request).handle(Operation.RESPONSES, request)


@get("/v1/models")
async def list_models(request: AnyRequest) -> dict[str, Any]:
    gateway = _gateway(request)
    return {"object": "list", "data": [gateway.model_card(pool) for pool in gateway.pools.values()]}


@get("/v1/models/{model_id:path}")
async def retrieve_model(request: AnyRequest, model_id: FromPath[str]) -> dict[str, Any]:
    gateway = _gateway(request)
    pool = gateway.pools.get(model_id.lstrip("/"))
    if pool is None:
        raise ModelNotFound(model_id.lstrip("/"))
    return gateway.model_card(pool)


@get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@get("/health/ready")
async def ready(request: AnyRequest) -> Response[dict[str, Any]]:
    """Ready when every model has at least one healthy backend."""
    pools = _gateway(request).pools
    models = {name: pool.has_available() for name, pool in pools.items()}
    ok = all(models.values())
    return Response(
        {"status": "ready" if ok else "unavailable", "models": models},
        status_code=200 if ok else 503,
    )


def _request_id_headers(request: AnyRequest, extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = dict(extra or {})
    request_id = request.scope.get("request_id")
    if isinstance(request_id, str):
        headers["x-request-id"] = request_id
    return headers


def handle_gateway_error(request: AnyRequest, exc: GatewayError) -> Response[bytes]:
    return Response(
        exc.body(),
        status_code=exc.status_code,
        media_type=_JSON,
        headers=_request_id_headers(request, exc.headers),
    )


def handle_http_exception(request: AnyRequest, exc: HTTPException) -> Response[bytes]:
    """Litestar's own refusals (unknown route, wrong method, body too large) in OpenAI's shape."""
    status = exc.status_code
    error: GatewayError
    if status == 413:
        error = PayloadTooLarge(
            f"The request body is larger than the {request.app.state.gateway.config.server.max_body_bytes} "
            "bytes this gateway accepts."
        )
    elif status == 404:
        error = InvalidRequest(
            f"Unknown request URL: {request.method} {request.url.path}. Please check the URL for typos.",
            code="unknown_url",
        )
        error.status_code = 404
    elif status == 405:
        error = InvalidRequest(
            f"Method {request.method} is not allowed on {request.url.path}.", code="method_not_allowed"
        )
        error.status_code = 405
    elif status < 500:
        error = InvalidRequest(str(exc.detail))
        error.status_code = status
    else:
        error = GatewayError("The gateway failed to process the request.")
        error.status_code = status
    return handle_gateway_error(request, error)


def handle_unexpected(request: AnyRequest, exc: Exception) -> Response[bytes]:
    # The traceback's frames help operators; the exception's message is left out because it may
    # quote request content.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("unexpected %s while serving %s\n%s", type(exc).__name__, request.url.path, frames)
    body = error_body("The gateway failed to process the request.", "server_error", code="internal_error")
    return Response(body, status_code=500, media_type=_JSON, headers=_request_id_headers(request))


def create_app(config: GatewayConfig) -> Litestar:
    gateway = Gateway(config)
    return Litestar(
        route_handlers=[
            chat_completions,
            completions,
            embeddings,
            responses,
            list_models,
            retrieve_model,
            live,
            ready,
        ],
        on_startup=[gateway.startup],
        on_shutdown=[gateway.shutdown],
        exception_handlers={
            GatewayError: handle_gateway_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        request_max_body_size=config.server.max_body_bytes,
        openapi_config=None,
        logging_config=None,
        state=State({"gateway": gateway}),
    )


def app_from_environment() -> Litestar:
    """The uvicorn factory used by `gateway serve` (each worker process builds its own app)."""
    path = os.environ.get("GATEWAY_CONFIG")
    if not path:
        raise RuntimeError("GATEWAY_CONFIG is not set: give the configuration file's path")
    return create_app(load_config(path))
