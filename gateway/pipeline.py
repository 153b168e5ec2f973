"""The request pipeline: every step a request goes through, in order, in one place.

    1. authenticate  API key -> Principal (department, service, key id, roles)
    2. parse         body -> ParsedRequest (unknown fields kept for pass-through)
    3. authorize     Casbin (department, service or roles, model, operation) -> allowed, or 403
    4. reserve       the worst case on every budget and limit at once, or 429
    5. route         model -> pool of backends (load, prefix affinity, health)
    6. forward       upstream call, retried on another backend while nothing was sent
    7. relay         the answer, or the SSE stream event by event
    8. settle        after the last byte: actual usage replaces the reservation

Redaction and tracing plug in here as steps of their own.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from litestar import Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.response import Stream

from gateway.authz import Authorizer
from gateway.charging import Charge, QuotaStep
from gateway.disconnect import DisconnectGuard
from gateway.errors import GatewayError, ModelNotFound, UpstreamFailure
from gateway.identity import Authenticator, Principal
from gateway.metering import UsageRecord, UsageRecorder
from gateway.operations import Operation
from gateway.parsing import ParsedRequest, parse_request
from gateway.routing.backend import Backend
from gateway.routing.pool import ModelPool, affinity_hash
from gateway.upstream.forward import Forwarder
from gateway.upstream.relay import StreamRelay
from gateway.usage import Usage, usage_from_body, usage_from_dict

__all__ = ["Pipeline", "client_address", "new_request_id"]

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
# nginx's convention for "the client closed the connection before the answer was ready".
_CLIENT_CLOSED_REQUEST = 499
_NO_USAGE = Usage(0, 0)


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
        quotas: QuotaStep,
        forwarder: Forwarder,
        recorder: UsageRecorder,
    ) -> None:
        self._pools = pools
        self._authenticator = authenticator
        self._authorizer = authorizer
        self._quotas = quotas
        self._forwarder = forwarder
        self._recorder = recorder

    async def handle(self, operation: Operation, request: Request[Any, Any, Any]) -> Response[Any]:
        started = time.perf_counter()
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
        charge, added = await self._quotas.reserve(principal, parsed, pool)

        # From here on the reservation must end exactly once: settled when the answer is complete,
        # released when it fails, charged for what was generated when the client leaves.
        exchange = Exchange(request_id, principal, parsed, pool, charge, added, started)
        guard = DisconnectGuard(request.receive)
        try:
            return await self._exchange(exchange)
        except asyncio.CancelledError:
            if guard.absorb():
                exchange.status = _CLIENT_CLOSED_REQUEST
                self._quotas.later(self._settle_unfinished(exchange, generated=0))
                # Nobody is listening; the status only shows in the server's own records.
                return Response(b"", status_code=_CLIENT_CLOSED_REQUEST)
            self._quotas.later(charge.release())
            raise
        except GatewayError as exc:
            exchange.status = exc.status_code
            self._quotas.later(self._account(exchange, None))
            exc.headers.update(exchange.response_headers)
            raise
        except BaseException:
            self._quotas.later(charge.release())
            raise
        finally:
            guard.close()

    async def _exchange(self, exchange: Exchange) -> Response[Any]:
        parsed, pool = exchange.parsed, exchange.pool
        upstream_headers = {
            "content-type": "application/json",
            "accept-encoding": "identity",
            "x-request-id": exchange.request_id,
        }
        affinity = affinity_hash(parsed.operation, parsed.payload, pool.config.routing.affinity_prefix_chars)
        reply = await self._forwarder.open(
            pool,
            parsed.operation.upstream_path,
            parsed.upstream_body(exchange.added),
            affinity=affinity,
            headers=upstream_headers,
        )
        exchange.backend = reply.backend
        status = exchange.status = reply.response.status_code
        if status in (401, 403):
            # The backend refused the gateway's own credentials: a configuration problem, not the caller's.
            await reply.release()
            raise UpstreamFailure("The backend refused the gateway's credentials; contact the operators.")

        if parsed.stream and status == 200:
            timeouts = pool.config.timeouts
            relay = StreamRelay(
                reply, strip_usage=not parsed.client_wants_usage, idle=timeouts.idle, total=timeouts.total
            )
            return Stream(
                relay,
                media_type="text/event-stream",
                headers={**_SSE_HEADERS, **exchange.response_headers},
                background=BackgroundTask(self._finish_stream, exchange, relay),
            )
        content = await reply.read_all(pool.config.timeouts)
        usage = usage_from_body(content) if status < 400 else None
        media_type = reply.response.headers.get("content-type", "application/json")
        return Response(
            content,
            status_code=status,
            media_type=media_type,
            headers=exchange.response_headers,
            background=BackgroundTask(self._finish, exchange, usage),
        )

    async def _finish(self, exchange: Exchange, usage: Usage | None) -> None:
        """After the last byte: settle with the backend's usage (release when it reported none)."""
        await self._account(exchange, usage)

    async def _account(self, exchange: Exchange, usage: Usage | None) -> None:
        """End the reservation and write the usage record: the one place a request is charged."""
        if usage is None:
            await exchange.charge.release()
            usage = _NO_USAGE
        else:
            await exchange.charge.settle(usage)
        model = exchange.parsed.model
        principal = exchange.principal
        self._recorder.record(
            UsageRecord(
                time=time.time(),
                request_id=exchange.request_id,
                department=principal.department,
                service=principal.service,
                key_id=principal.key_id,
                model=model,
                backend=exchange.backend.url if exchange.backend is not None else "",
                operation=exchange.parsed.operation.value,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens,
                weighted_cost=self._quotas.weighted_cost(model, usage),
                cost_eur=self._quotas.price_eur(model, usage),
                latency_ms=(time.perf_counter() - exchange.started) * 1000,
                status=exchange.status,
                trace_id=None,
            )
        )

    async def _finish_stream(self, exchange: Exchange, relay: StreamRelay) -> None:
        await relay.aclose()
        usage = usage_from_dict(relay.usage) if relay.usage is not None else None
        if usage is not None:
            await self._account(exchange, usage)
            return
        # The stream ended before its usage chunk (the client left, or the backend failed): charge
        # what was generated, one token per relayed event after each choice's opening chunk.
        choices = exchange.parsed.payload.get("n")
        opening = choices if isinstance(choices, int) and not isinstance(choices, bool) and choices > 0 else 1
        await self._settle_unfinished(exchange, generated=max(0, relay.events - opening))

    async def _settle_unfinished(self, exchange: Exchange, generated: int) -> None:
        """Charge a request that ended without usage: its exact prompt (asked of the backend's
        tokenizer) and the tokens generated; nothing when it never reached a backend."""
        charge = exchange.charge
        if charge.done:
            return
        if exchange.backend is None:
            await self._account(exchange, None)
            return
        prompt = await self._forwarder.count_prompt_tokens(
            exchange.backend, exchange.parsed.model, exchange.parsed.payload
        )
        await self._account(exchange, Usage(prompt if prompt is not None else charge.input_bound, generated))


class Exchange:
    """What one request carries from its reservation to its settlement."""

    __slots__ = (
        "added",
        "backend",
        "charge",
        "parsed",
        "pool",
        "principal",
        "request_id",
        "response_headers",
        "started",
        "status",
    )

    def __init__(
        self,
        request_id: str,
        principal: Principal,
        parsed: ParsedRequest,
        pool: ModelPool,
        charge: Charge,
        added: dict[str, Any] | None,
        started: float,
    ) -> None:
        self.request_id = request_id
        self.principal = principal
        self.started = started
        self.status = 0
        self.parsed = parsed
        self.pool = pool
        self.charge = charge
        self.added = added
        self.backend: Backend | None = None
        self.response_headers = {"x-request-id": request_id, **charge.headers}
