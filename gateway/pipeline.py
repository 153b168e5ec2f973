"""The request pipeline: every step a request goes through, in order, in one place.

    1. authenticate  API key -> Principal (department, service, key id, roles)
    2. parse         body -> ParsedRequest (unknown fields kept for pass-through)
    3. authorize     Casbin (department, service or roles, model, operation) -> allowed, or 403
    4. route         model -> pool of backends (load, prefix affinity, health)
    5. forward       upstream call, retried on another backend while nothing was sent
    6. relay         the answer, or the SSE stream event by event

Redaction, quotas and tracing plug in here as steps of their own.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from litestar import Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.response import Stream

from gateway.authz import Authorizer
from gateway.disconnect import DisconnectGuard
from gateway.errors import ModelNotFound, UpstreamFailure
from gateway.identity import Authenticator
from gateway.operations import Operation
from gateway.parsing import ParsedRequest, parse_request
from gateway.routing.pool import ModelPool, affinity_hash
from gateway.upstream.forward import Forwarder
from gateway.upstream.relay import StreamRelay

__all__ = ["Pipeline", "client_address", "new_request_id"]

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
# nginx's convention for "the client closed the connection before the answer was ready".
_CLIENT_CLOSED_REQUEST = 499


def new_request_id() -> str:
    return "req-" + os.urandom(12).hex()


def client_address(request: Request[Any, Any, Any]) -> str:
    """The peer's address, for the failed-authentication limiter. Behind a reverse proxy this is the
    proxy's: run the server with uvicorn's --proxy-headers and --forwarded-allow-ips to see clients."""
    client = request.client
    return client.host if client is not None else ""


class Pipeline:
    """Serves one OpenAI operation from parsing to the relayed answer."""

    def __init__(
        self,
        pools: dict[str, ModelPool],
        authenticator: Authenticator,
        authorizer: Authorizer,
        forwarder: Forwarder,
    ) -> None:
        self._pools = pools
        self._authenticator = authenticator
        self._authorizer = authorizer
        self._forwarder = forwarder

    async def handle(self, operation: Operation, request: Request[Any, Any, Any]) -> Response[Any]:
        request_id = new_request_id()
        request.scope["request_id"] = request_id  # type: ignore[typeddict-unknown-key]
        principal = await self._authenticator.authenticate(
            request.headers.get("authorization"), client_address(request)
        )
        request.scope["principal"] = principal  # type: ignore[typeddict-unknown-key]
        parsed = parse_request(operation, await request.body())

        pool = self._pools.get(parsed.model)
        if pool is None:
            # Before authorization, so that made-up model names cannot fill the decision cache.
            raise ModelNotFound(parsed.model)
        self._authorizer.authorize(
            principal.department, principal.service, principal.roles, parsed.model, operation.value
        )
        affinity = affinity_hash(operation, parsed.payload, pool.config.routing.affinity_prefix_chars)

        upstream_headers = {
            "content-type": "application/json",
            "accept-encoding": "identity",
            "x-request-id": request_id,
        }
        guard = DisconnectGuard(request.receive)
        try:
            return await self._exchange(parsed, pool, affinity, upstream_headers, request_id)
        except asyncio.CancelledError:
            if guard.absorb():
                # Nobody is listening; the status only shows in the server's own records.
                return Response(b"", status_code=_CLIENT_CLOSED_REQUEST)
            raise
        finally:
            guard.close()

    async def _exchange(
        self,
        parsed: ParsedRequest,
        pool: ModelPool,
        affinity: int | None,
        upstream_headers: dict[str, str],
        request_id: str,
    ) -> Response[Any]:
        reply = await self._forwarder.open(
            pool,
            parsed.operation.upstream_path,
            parsed.upstream_body(),
            affinity=affinity,
            headers=upstream_headers,
        )
        status = reply.response.status_code
        if status in (401, 403):
            # The backend refused the gateway's own credentials: a configuration problem, not the caller's.
            await reply.release()
            raise UpstreamFailure("The backend refused the gateway's credentials; contact the operators.")

        response_headers = {"x-request-id": request_id}
        if parsed.stream and status == 200:
            timeouts = pool.config.timeouts
            relay = StreamRelay(
                reply, strip_usage=not parsed.client_wants_usage, idle=timeouts.idle, total=timeouts.total
            )
            return Stream(
                relay,
                media_type="text/event-stream",
                headers={**_SSE_HEADERS, **response_headers},
                background=BackgroundTask(relay.aclose),
            )
        content = await reply.read_all(pool.config.timeouts)
        media_type = reply.response.headers.get("content-type", "application/json")
        return Response(content, status_code=status, media_type=media_type, headers=response_headers)
