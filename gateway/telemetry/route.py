"""The `GET /metrics` route, bound to one worker's `GatewayMetrics`.

Closed unless configured: with a token (`metrics.token_env`) scrapers must send it; with neither a
token nor `metrics.allow_anonymous`, every scrape is refused. The figures name departments, services
and backend URLs and count personal data: not for whoever reaches the API port.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from gateway.telemetry.metrics import GatewayMetrics
from gateway.telemetry.settings import MetricsConfig

__all__ = ["metrics_routes"]

logger = logging.getLogger("gateway.telemetry")

_NOT_CONFIGURED = (
    b"no scrape token is configured: set metrics.token_env (Prometheus then sends the token), or\n"
    b"metrics.allow_anonymous: true where the port is closed to everyone but the scraper\n"
)


def metrics_routes(metrics: GatewayMetrics, config: MetricsConfig) -> list[HTTPRouteHandler]:
    """The route handlers to mount: the metrics endpoint at `config.path`, or none when disabled.

    Raises ValueError when `config.token_env` names a variable that is not set."""
    if not config.enabled:
        return []
    token = config.scrape_token()
    expected = f"Bearer {token.get_secret_value()}".encode() if token is not None else None
    closed = expected is None and not config.allow_anonymous
    if closed:
        logger.warning(
            "%s refuses every scrape: set metrics.token_env, or metrics.allow_anonymous: true "
            "(or metrics.enabled: false)",
            config.path,
        )

    async def serve_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
        if closed:
            return Response(_NOT_CONFIGURED, status_code=403, media_type="text/plain")
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
