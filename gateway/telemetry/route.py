"""The `GET /metrics` route, bound to one worker's `GatewayMetrics`."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from gateway.telemetry.metrics import GatewayMetrics
from gateway.telemetry.settings import MetricsConfig

__all__ = ["metrics_routes"]


def metrics_routes(metrics: GatewayMetrics, config: MetricsConfig) -> list[HTTPRouteHandler]:
    """The route handlers to mount: the metrics endpoint at `config.path`, or none when disabled.

    Raises ValueError when `config.token_env` names a variable that is not set."""
    if not config.enabled:
        return []
    token = config.scrape_token()
    expected = f"Bearer {token.get_secret_value()}".encode() if token is not None else None

    async def serve_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
        if expected is not None:
            given = (request.headers.get("authorization") or "").encode()
            if not hmac.compare_digest(given, expected):
                return Response(
                    b"a bearer token is required\n",
                    status_code=401,
                    media_type="text/plain",
                    headers={"www-authenticate": "Bearer"},
                )
        # Rendering reads and merges the workers' files: a few milliseconds once per scrape interval,
        # on the loop rather than in a thread so that it never runs alongside a request's counting.
        body, content_type = metrics.render(request.headers.get("accept"))
        return Response(body, media_type=content_type, headers={"cache-control": "no-store"})

    return [get(config.path, name="metrics", include_in_schema=False)(serve_metrics)]
