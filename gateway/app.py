"""The Litestar application: its routes, its error handlers, and the factory uvicorn calls."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from opentelemetry.sdk.trace.export import SpanExporter

from gateway.admin import admin_router
from gateway.apidocs import api_docs_routes
from gateway.batches.routes import BATCH_ROUTES, files_upload_router
from gateway.collector import freeze_startup_heap
from gateway.config import GatewayConfig, load_config
from gateway.console.plugin import ConsolePlugin
from gateway.error_handlers import handle_gateway_error, handle_http_exception, handle_unexpected
from gateway.errors import GatewayError
from gateway.routes import ROUTES, upload_router
from gateway.state import Gateway
from gateway.stored_responses.routes import STORED_RESPONSE_ROUTES
from gateway.telemetry import metrics_routes
from gateway.worker import running_worker

__all__ = ["app_from_environment", "create_app"]


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

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with running_worker(gateway) as worker:
            app.state.worker = worker
            yield

    # Start-up hooks run once the lifespan has entered, that is with the worker started.
    on_startup: list[Callable[[], object]] = [freeze_startup_heap] if server_process else []
    return Litestar(
        route_handlers=[
            *ROUTES,
            *STORED_RESPONSE_ROUTES,
            *BATCH_ROUTES,
            files_upload_router(config.batches.max_file_bytes),
            upload_router(config.server.max_audio_bytes),
            admin_router(),
            *metrics_routes(gateway.metrics, config.metrics),
            *api_docs_routes(config.server.api_docs),
        ],
        lifespan=[lifespan],
        on_startup=on_startup,
        exception_handlers={
            GatewayError: handle_gateway_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        request_max_body_size=config.server.max_body_bytes,
        openapi_config=None,  # the API reference is gateway/apidocs/: no CDN-loaded schema pages
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
