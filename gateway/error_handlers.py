"""The application's exception handlers: every error a client sees leaves through `error_response`,
in the shape the matched route's operation declares (OpenAI's unless it says otherwise:
gateway/error_shapes.py), with the request's id and trace id when it has them.

This is the boundary where Litestar's own refusals become catalogue errors; the admin API adds its
mapping of the management errors (gateway/admin/errors.py) on top.
"""

from __future__ import annotations

import logging
import traceback

from litestar import Response
from litestar.exceptions import HTTPException

from gateway.error_shapes import render_error
from gateway.errors import (
    ClientError,
    GatewayError,
    InternalError,
    MethodNotAllowed,
    PayloadTooLarge,
    ServerFailure,
    UnknownRoute,
)
from gateway.operations import ErrorFormat
from gateway.request_context import context_of
from gateway.state import AnyRequest, gateway_of

__all__ = ["error_response", "handle_gateway_error", "handle_http_exception", "handle_unexpected"]

logger = logging.getLogger("gateway")

_JSON = "application/json"


def _request_id_headers(request: AnyRequest, extra: dict[str, str]) -> dict[str, str]:
    headers = dict(extra)
    context = context_of(request)
    if context is not None:
        headers["x-request-id"] = context.request_id
        if context.trace_id is not None:
            headers["x-trace-id"] = context.trace_id
    return headers


def _error_format(request: AnyRequest) -> ErrorFormat:
    """The error shape the matched route's operation declares (routes.py puts it in the handler's
    `opt`); OpenAI's where no operation's route matched."""
    handler = request.scope.get("route_handler")
    declared = handler.opt.get("error_format") if handler is not None else None
    return declared if isinstance(declared, ErrorFormat) else ErrorFormat.OPENAI


def error_response(request: AnyRequest, error: GatewayError) -> Response[bytes]:
    return Response(
        render_error(error, _error_format(request)),
        status_code=error.status_code,
        media_type=_JSON,
        headers=_request_id_headers(request, error.headers),
    )


def handle_gateway_error(request: AnyRequest, exc: GatewayError) -> Response[bytes]:
    return error_response(request, exc)


def _refusal(request: AnyRequest, exc: HTTPException) -> GatewayError:
    status = exc.status_code
    if status == 413:
        # The route's own limit: an upload's (gateway/routes.py) is not the JSON bodies'.
        limit = (
            request.route_handler.resolve_request_max_body_size()
            or gateway_of(request).config.server.max_body_bytes
        )
        return PayloadTooLarge(f"The request body is larger than the {limit} bytes this gateway accepts.")
    if status == 404:
        return UnknownRoute(request.method, request.url.path)
    if status == 405:
        return MethodNotAllowed(request.method, request.url.path)
    if status < 500:
        return ClientError(status, str(exc.detail))
    return ServerFailure(status)


def handle_http_exception(request: AnyRequest, exc: HTTPException) -> Response[bytes]:
    """Litestar's own refusals (unknown route, wrong method, body too large) in OpenAI's shape."""
    return error_response(request, _refusal(request, exc))


def handle_unexpected(request: AnyRequest, exc: Exception) -> Response[bytes]:
    # The traceback's frames help operators; the exception's message is left out because it may
    # quote request content.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("unexpected %s while serving %s\n%s", type(exc).__name__, request.url.path, frames)
    return error_response(request, InternalError())
