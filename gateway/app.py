"""The Litestar application: its routes, its error handlers, and the factory uvicorn calls."""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable
from pathlib import Path

from litestar import Litestar, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from opentelemetry.sdk.trace.export import SpanExporter

from gateway.admin import ADMIN_ROUTES
from gateway.collector import freeze_startup_heap
from gateway.config import GatewayConfig, load_config
from gateway.console.plugin import ConsolePlugin
from gateway.error_shapes import render_error
from gateway.errors import GatewayError, InvalidRequest, PayloadTooLarge
from gateway.operations import ErrorFormat
from gateway.routes import ROUTES
from gateway.state import AnyRequest, Gateway
from gateway.telemetry import metrics_routes

__all__ = ["app_from_environment", "create_app"]

logger = logging.getLogger("gateway")

_JSON = "application/json"


def _request_id_headers(request: AnyRequest, extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = dict(extra or {})
    request_id = request.scope.get("request_id")
    if isinstance(request_id, str):
        headers["x-request-id"] = request_id
    trace_id = request.scope.get("trace_id")
    if isinstance(trace_id, str):
        headers["x-trace-id"] = trace_id
    return headers


def _error_format(request: AnyRequest) -> ErrorFormat:
    """The error shape the matched route's operation declares (routes.py puts it in the handler's
    `opt`); OpenAI's where no operation's route matched."""
    handler = request.scope.get("route_handler")
    declared = handler.opt.get("error_format") if handler is not None else None
    return declared if isinstance(declared, ErrorFormat) else ErrorFormat.OPENAI


def handle_gateway_error(request: AnyRequest, exc: GatewayError) -> Response[bytes]:
    return Response(
        render_error(exc, _error_format(request)),
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
    error = GatewayError("The gateway failed to process the request.", code="internal_error")
    return handle_gateway_error(request, error)


def create_app(
    config: GatewayConfig,
    base_dir: Path | None = None,
    *,
    span_exporter: SpanExporter | None = None,
    server_process: bool = False,
) -> Litestar:
    """The application for one worker; `base_dir` is the configuration file's folder.

    `span_exporter` replaces the OTLP exporter of traces (tests read spans from an in-memory one).
    `server_process`: the app owns its process (`gateway serve`), whose garbage collector is set for
    serving once the app has started (gateway/collector.py); not for an app among others, as in tests."""
    gateway = Gateway(config, base_dir, span_exporter=span_exporter)
    on_startup: list[Callable[[], object]] = [gateway.startup]
    if server_process:
        on_startup.append(freeze_startup_heap)
    return Litestar(
        route_handlers=[*ROUTES, *ADMIN_ROUTES, *metrics_routes(gateway.metrics, config.metrics)],
        on_startup=on_startup,
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
        plugins=[ConsolePlugin(config.console)] if config.console.enabled else [],
    )


def app_from_environment() -> Litestar:
    """The uvicorn factory used by `gateway serve` (each worker process builds its own app)."""
    path = os.environ.get("GATEWAY_CONFIG")
    if not path:
        raise RuntimeError("GATEWAY_CONFIG is not set: give the configuration file's path")
    return create_app(load_config(path), Path(path).parent, server_process=True)
