"""`GET /v1/responses/{id}` and `POST /v1/responses/{id}/cancel`, sent to the backend that holds it.

Authenticated, authorized as the `responses` action on the response's model (reading a response is
using the Responses API), observed (metrics, audit log) and never charged: no tokens are generated.

When the holding backend is down, the answer is 503 (`backend_unavailable`, retry later), not 404:
vLLM keeps its store in memory across a short outage, so the response may well come back; a backend
that restarted answers the 404 itself. A backend no longer configured for the model is a 404.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Response, get, post
from litestar.params import FromPath

from gateway.authz import PermissionDenied
from gateway.error_shapes import relayed_error
from gateway.errors import GatewayError
from gateway.operations import Operation
from gateway.operations.base import ErrorFormat
from gateway.operations.responses import RESPONSES
from gateway.pipeline import new_request_id
from gateway.request_context import attach_context
from gateway.state import AnyRequest, gateway_of
from gateway.stored_responses.errors import ResponseNotFound
from gateway.stored_responses.sticky import StickyResponses, home_backend
from gateway.telemetry.request_trace import error_type
from gateway.upstream.forward import Forwarder
from gateway.worker import worker_of

__all__ = ["STORED_RESPONSE_ROUTES"]


def _no_usage(_: bytes) -> None:
    return None


async def _serve(request: AnyRequest, response_id: str, *, cancel: bool) -> Response[Any]:
    worker = worker_of(request)
    gateway = gateway_of(request)
    sticky: StickyResponses | None = worker.sticky_responses
    forwarder: Forwarder = worker.forwarder
    operation: Operation = RESPONSES
    path = f"/v1/responses/{response_id}" + ("/cancel" if cancel else "")
    request_id = new_request_id()
    context = attach_context(request, request_id)
    observer = worker.observer
    facts = observer.start(operation, request.method, path, request.headers, request_id, time.perf_counter())
    context.trace_id = facts.trace.trace_id
    try:
        principal = await worker.principal(request)
        facts.department, facts.service, facts.key_id = (
            principal.department,
            principal.service,
            principal.key_id,
        )
        if sticky is None:
            raise ResponseNotFound(response_id)
        home = await sticky.owned_home(response_id, principal)
        pool = gateway.pools.get(home.model)
        backend = home_backend(home, pool) if pool is not None else None
        if pool is None or backend is None:
            raise ResponseNotFound(response_id)
        facts.model = home.model
        try:
            gateway.authorizer.authorize(
                principal.department, principal.service, principal.roles, home.model, operation.value
            )
        except PermissionDenied:
            facts.decision = "deny"
            raise
        facts.decision = "allow"
        observer.admitted(facts)
        reply = await forwarder.open(
            pool.pinned_to(backend),
            path,
            b"",
            affinity=None,
            headers={"accept-encoding": "identity", "x-request-id": request_id},
            trace=facts.trace,
            method="POST" if cancel else "GET",
        )
        facts.backend = backend.url
        status = facts.status = reply.response.status_code
        content = await reply.read_all(pool.config.timeouts, _no_usage)
    except GatewayError as exc:
        facts.status, facts.error = exc.status_code, error_type(exc)
        observer.conclude(facts)
        exc.headers.setdefault("x-request-id", request_id)
        raise
    except BaseException as exc:
        facts.status, facts.error = 500, error_type(exc)
        observer.conclude(facts)
        raise
    observer.conclude(facts)
    if status >= 400:
        content = relayed_error(ErrorFormat.OPENAI, status, content)
    media_type = reply.response.headers.get("content-type", "application/json")
    return Response(content, status_code=status, media_type=media_type, headers={"x-request-id": request_id})


@get("/v1/responses/{response_id:str}", opt={"error_format": ErrorFormat.OPENAI})
async def retrieve_response(request: AnyRequest, response_id: FromPath[str]) -> Response[Any]:
    return await _serve(request, response_id, cancel=False)


@post("/v1/responses/{response_id:str}/cancel", status_code=200, opt={"error_format": ErrorFormat.OPENAI})
async def cancel_response(request: AnyRequest, response_id: FromPath[str]) -> Response[Any]:
    return await _serve(request, response_id, cancel=True)


STORED_RESPONSE_ROUTES = [retrieve_response, cancel_response]
