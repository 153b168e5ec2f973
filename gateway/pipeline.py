"""The request pipeline: every step a request goes through, in order, in one place.

    1. authenticate  API key -> Principal (department, service, key id, roles)
    2. parse         body -> ParsedRequest (unknown fields kept for pass-through)
    3. authorize     Casbin (department, service or roles, model, operation) -> allowed, or 403
    4. redact        personal data -> placeholders or masks (or 400 when it must not be sent)
    5. admit         a slot on a backend below capacity, or a wait in the model's fair queue
                     (priority class, then department), or 429 `pool_saturated`; nothing is
                     reserved while a request waits
    6. reserve       the worst case on every budget and limit at once, or 429
    7. route         model -> pool of backends (load, prefix affinity, health)
    8. forward       upstream call, retried on another backend while nothing was sent
    9. relay         the answer, or the SSE stream event by event, placeholders restored
   10. settle        after the last byte: actual usage replaces the reservation
   11. observe       the request's facts to its trace, the metrics and the audit log, once

Every step runs inside its own span when tracing is on (`RequestTrace`; a no-op when off).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.response import Stream
from litestar.types import Receive

from gateway.admission.classes import PRIORITY_HEADER, request_rank
from gateway.admission.errors import PoolSaturated
from gateway.admission.scheduler import Admission
from gateway.admission.settings import CLASS_NAMES
from gateway.admission.slot import Slot
from gateway.authz import Authorizer, PermissionDenied
from gateway.background import BackgroundWork
from gateway.capabilities import operation_not_supported
from gateway.charging import Charge, QuotaStep
from gateway.disconnect import DisconnectGuard
from gateway.error_shapes import relayed_error
from gateway.errors import (
    BackendUnavailable,
    GatewayError,
    InvalidRequest,
    ModelNotFound,
    UpstreamAnswerTooLarge,
    UpstreamFailure,
)
from gateway.identity import Authenticator, Principal, presented_authorization
from gateway.metering import UsageRecorder
from gateway.operations import Operation
from gateway.parsing import ParsedRequest, parse_request
from gateway.pii import PiiBlocked, Redactor, StreamRestorer
from gateway.pii.restore import PlaceholderRestorer
from gateway.pii.transcript import TranscriptMasker
from gateway.quotas import QuotaExceeded
from gateway.quotas.pricing import Pricing, Spent, spent_headers, with_usage_fields
from gateway.request_context import attach_context
from gateway.routing.backend import Backend
from gateway.routing.pool import ModelPool, affinity_hash
from gateway.stored_responses.sticky import StickyResponses
from gateway.telemetry import genai
from gateway.telemetry.facts import UNKNOWN_MODEL, RequestFacts
from gateway.telemetry.observer import Observer
from gateway.telemetry.request_trace import error_type
from gateway.upstream.forward import Forwarder, UpstreamReply
from gateway.upstream.relay import StreamRelay
from gateway.usage import Usage, metered_audio

__all__ = ["InternalAnswer", "Pipeline", "client_address", "new_request_id"]

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
# nginx's convention for "the client closed the connection before the answer was ready".
_CLIENT_CLOSED_REQUEST = 499
_NO_USAGE = Usage(0, 0)
# What vLLM's FastAPI app answers on a route it did not register (vLLM's own errors are {"error": ...}).
_ROUTE_NOT_FOUND = b'{"detail":'
_NOT_IMPLEMENTED = 501

_UNTRACED: tuple[str, dict[str, Any]] = ("", {})


def new_request_id() -> str:
    return "req-" + os.urandom(12).hex()


def client_address(request: Request[Any, Any, Any]) -> str:
    """The peer's address, for the failed-authentication limiter. Behind a reverse proxy this is the
    proxy's, unless the proxy is listed in `server.trusted_proxies` (its X-Forwarded-For is then believed)."""
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
        redactor: Redactor | None = None,
        observer: Observer | None = None,
        *,
        max_choices: int,
        max_file_bytes: int = 25 * 1024 * 1024,
        pricing: Pricing,
        usage_fields_in_answer: bool = False,
        background: BackgroundWork,
        sticky: StickyResponses | None = None,
        admission: Admission,
    ) -> None:
        self._pools = pools
        # Step 5: the per-model queues that share the backends' capacity between classes and departments.
        self._admission = admission
        # Stored responses: `previous_response_id` goes to the backend that holds it; ids are recorded.
        self._sticky = sticky
        self._max_choices = max_choices
        self._max_file_bytes = max_file_bytes
        self._redactor = redactor
        self._observer = observer or Observer()
        self._authenticator = authenticator
        self._authorizer = authorizer
        self._quotas = quotas
        self._forwarder = forwarder
        self._recorder = recorder
        self._pricing = pricing
        self._usage_fields = usage_fields_in_answer
        # Settling, recording and concluding run after the answer: the worker drains them at shutdown.
        self._background = background

    async def handle(self, operation: Operation, request: Request[Any, Any, Any]) -> Response[Any]:
        request_id = new_request_id()
        context = attach_context(request, request_id)
        facts = self._observer.start(
            operation,
            request.method,
            operation.upstream_path,
            request.headers,
            request_id,
            time.perf_counter(),
        )
        context.trace_id = facts.trace.trace_id
        try:
            exchange = await self._admit(operation, request, facts)
        except ClientLeft:
            # It left while waiting in the queue: nothing was reserved, nobody is listening.
            facts.status, facts.error = _CLIENT_CLOSED_REQUEST, "client_disconnected"
            self._observer.conclude(facts)
            return Response(b"", status_code=_CLIENT_CLOSED_REQUEST)
        except BaseException as exc:
            self._refused(facts, exc)
            raise
        self._observer.admitted(facts)

        # From here on the reservation must end exactly once: settled when the answer is complete,
        # released when it fails, charged for what was generated when the client leaves.
        guard = DisconnectGuard(request.receive)
        try:
            return await self._exchange(exchange)
        except asyncio.CancelledError:
            if guard.absorb():
                facts.status = _CLIENT_CLOSED_REQUEST
                self._background.start(self._settle_unfinished(exchange, generated=0))
                # Nobody is listening; the status only shows in the server's own records.
                return Response(b"", status_code=_CLIENT_CLOSED_REQUEST)
            self._background.start(self._abandon(exchange, "cancelled"))
            raise
        except GatewayError as exc:
            self._failed(exchange, exc)
            raise
        except BaseException as exc:
            self._background.start(self._abandon(exchange, error_type(exc)))
            raise
        finally:
            guard.close()
            if exchange.slot is not None:
                exchange.slot.release()  # a no-op once the upstream call took it over

    async def _wait_for_slot(
        self, accepted: Accepted, receive: Receive | None, facts: RequestFacts
    ) -> Slot | None:
        """Step 5: a slot on a backend with room, after a wait in the model's queue if need be; None
        when admission is off or the request needs no slot of the engine or has one backend only.
        `receive`: the client's channel, to hear it leave while queued (None: no client)."""
        admission = self._admission
        if (
            not admission.config.enabled
            or accepted.pinned is not None
            or not accepted.parsed.operation.holds_engine_slot
        ):
            return None
        pool, rank = accepted.pool, accepted.rank
        slot = admission.admit_now(pool, rank, accepted.affinity)
        if slot is not None:
            self._observer.waited(facts, CLASS_NAMES[rank], 0.0)
            return slot
        if not pool.has_available():
            return None  # nothing to wait for: the forwarder answers 503 as for any request
        # Only a request that waits needs to hear its client leave (the body has been read).
        guard = DisconnectGuard(receive) if receive is not None else None
        with facts.trace.step("admit"):
            try:
                slot = await admission.wait(pool, rank, accepted.principal.department, accepted.affinity)
            except asyncio.CancelledError:
                if guard is not None and guard.absorb():
                    raise ClientLeft from None
                raise
            except PoolSaturated as exc:
                self._observer.shed(facts, CLASS_NAMES[rank], exc.reason)
                raise
            except BackendUnavailable:
                self._observer.shed(facts, CLASS_NAMES[rank], "no_backend")
                raise
            finally:
                if guard is not None:
                    guard.close()
        self._observer.waited(facts, CLASS_NAMES[rank], slot.waited)
        return slot

    async def handle_internal(
        self,
        operation: Operation,
        principal: Principal,
        body: bytes,
        *,
        headers: Mapping[str, str],
        price_factor: float = 1.0,
    ) -> InternalAnswer:
        """One request made inside the gateway for `principal` (a batch's line, under its batch's
        key): every step after authentication, as for a client's request (policy, PII, quotas,
        routing, metering, audit, tracing). A refusal raises its `GatewayError`; an answer, the
        backend's error included, is returned whole (the body must not ask for a stream), once it
        is settled. `headers` stand for the request's (`x-gateway-priority`, `traceparent`)."""
        request_id = new_request_id()
        facts = self._observer.start(
            operation, "POST", operation.upstream_path, headers, request_id, time.perf_counter()
        )
        try:
            exchange = await self._admit_as(principal, operation, body, headers, facts, price_factor)
        except BaseException as exc:
            self._refused(facts, exc)
            if isinstance(exc, GatewayError):  # what an error handler adds for a client's request
                exc.headers.setdefault("x-request-id", request_id)
            raise
        self._observer.admitted(facts)
        try:
            response = await self._exchange(exchange)
        except GatewayError as exc:
            self._failed(exchange, exc)
            raise
        except BaseException as exc:
            self._background.start(self._abandon(exchange, error_type(exc)))
            raise
        if response.background is not None:  # settled before the caller writes the answer down
            await response.background()
        if isinstance(response, Stream):  # closed and settled above, unread: the caller's mistake
            raise InvalidRequest("A request made inside the gateway cannot be streamed.", param="stream")
        content = response.content
        return InternalAnswer(
            response.status_code or 200, content if isinstance(content, bytes) else b"", request_id
        )

    def _refused(self, facts: RequestFacts, exc: BaseException) -> None:
        """Refused before anything was reserved: nothing to settle, only to observe."""
        facts.status = exc.status_code if isinstance(exc, GatewayError) else 500
        facts.error = error_type(exc)
        if isinstance(exc, QuotaExceeded):
            counter = exc.refusal.counter
            self._observer.quota_refused(facts, counter.level, counter.kind)
        self._observer.conclude(facts)

    def _failed(self, exchange: Exchange, exc: GatewayError) -> None:
        """A request that held a reservation ends in a gateway error: its settlement in the background."""
        facts = exchange.facts
        facts.status = exc.status_code
        facts.error = error_type(exc)
        if isinstance(exc, UpstreamAnswerTooLarge):
            # The backend generated it all, but its usage was in the part left unread: the
            # request pays its exact prompt and every output token it reserved.
            generated = exchange.charge.output_bound
            self._background.start(self._settle_unfinished(exchange, generated=generated))
        else:
            self._background.start(self._account(exchange, None))
        exc.headers.update(exchange.response_headers)

    async def _admit(
        self, operation: Operation, request: Request[Any, Any, Any], facts: RequestFacts
    ) -> Exchange:
        """Step 1, who is asking; then `_admit_as`."""
        with facts.trace.step("authenticate"):
            principal = await self._authenticator.authenticate(
                presented_authorization(request.headers, operation.key_header), client_address(request)
            )
        body = await request.body()
        return await self._admit_as(
            principal, operation, body, request.headers, facts, receive=request.receive
        )

    async def _admit_as(
        self,
        principal: Principal,
        operation: Operation,
        body: bytes,
        headers: Mapping[str, str],
        facts: RequestFacts,
        price_factor: float = 1.0,
        receive: Receive | None = None,
    ) -> Exchange:
        """Steps 2 to 6 for an authenticated caller (a request's key, or a batch's): for what,
        whether they may, what may be sent, a slot on a backend, and the budget (reserved only once
        the request may go: nothing is held while it waits). `headers` are the request's (a batch
        line's: `x-gateway-priority: batch`); `receive`, its client's channel, tells a client that
        leaves while queued (None inside the gateway: no client to leave)."""
        trace = facts.trace
        facts.department, facts.service, facts.key_id = (
            principal.department,
            principal.service,
            principal.key_id,
        )
        facts.model = UNKNOWN_MODEL  # until the request names a configured model
        parsed = parse_request(
            operation,
            body,
            max_choices=self._max_choices,
            content_type=headers.get("content-type", ""),
            max_file_bytes=self._max_file_bytes,
        )
        pool = self._pools.get(parsed.model)
        if pool is None:
            # Before authorization, so that made-up model names cannot fill the decision cache.
            raise ModelNotFound(parsed.model)
        facts.model = parsed.model
        with trace.step("authorize") as span:
            try:
                decision = self._authorizer.authorize(
                    principal.department, principal.service, principal.roles, parsed.model, operation.value
                )
            except PermissionDenied as exc:
                facts.decision = "deny"
                facts.rule = ", ".join(exc.decision.rule) if exc.decision and exc.decision.rule else None
                span.set_attribute("gateway.policy.rule", facts.rule or "(denied by default)")
                raise
            facts.decision = "allow"
            facts.rule = ", ".join(decision.rule) if decision.rule else None
            if facts.rule is not None:
                span.set_attribute("gateway.policy.rule", facts.rule)
        if operation.value not in pool.config.served_operations:
            # After authorization: what a model serves is told only to callers allowed to use it
            # (others get the 403 they would get for any operation), as `GET /v1/models` does.
            raise operation_not_supported(parsed.model, operation)
        rank = request_rank(self._admission.config, principal, headers.get(PRIORITY_HEADER))
        pinned = None
        if self._sticky is not None:
            pinned = await self._sticky.previous_backend(operation.value, parsed.payload, principal, pool)

        restorer: PlaceholderRestorer | None = None
        masker: TranscriptMasker | None = None
        if self._redactor is not None:
            if operation.masks_answer:
                masker = self._redactor.transcript_masker(
                    principal.department, principal.service, parsed.model
                )
            with trace.step("redact") as span:
                try:
                    redaction = await self._redactor.redact(parsed, principal.department, principal.service)
                    if redaction is not None:
                        parsed, restorer, facts.pii = redaction.parsed, redaction.restorer, redaction.counts
                except PiiBlocked as exc:
                    facts.pii = exc.counts  # what was found, refused or not
                    raise
                finally:
                    if facts.pii:
                        span.set_attributes({f"gateway.pii.{entity}": n for entity, n in facts.pii.items()})
        affinity = affinity_hash(operation, parsed.payload, pool.config.routing.affinity_prefix_chars)
        accepted = Accepted(principal, parsed, pool, rank, affinity, pinned, restorer, masker)
        slot = await self._wait_for_slot(accepted, receive, facts)
        try:
            with trace.step("reserve"):
                charge, added = await self._quotas.reserve(principal, parsed, pool, price_factor=price_factor)
        except BaseException:
            if slot is not None:
                slot.release()
            raise
        exchange = accepted.exchange(facts, charge, added, slot)
        exchange.price_factor = price_factor
        return exchange

    async def _exchange(self, exchange: Exchange) -> Response[Any]:
        parsed, pool = exchange.parsed, exchange.pool
        upstream_headers = {
            "content-type": parsed.content_type,
            "accept-encoding": "identity",
            "x-request-id": exchange.facts.request_id,
        }
        trace = exchange.facts.trace
        span = (
            (
                genai.span_name(parsed),
                genai.request_attributes(parsed, record_content=self._observer.record_content),
            )
            if trace.traced
            else _UNTRACED
        )
        sticky = self._sticky
        keeps = sticky is not None and sticky.keeps(parsed.operation.value, parsed.payload)
        priority_body = None
        if pool.prioritizes and parsed.operation.vllm_priority_field:
            priority = self._admission.config.classes[CLASS_NAMES[exchange.rank]].vllm_priority
            priority_body = parsed.upstream_body({**(exchange.added or {}), "priority": priority})
        reply = await self._forwarder.open(
            pool if exchange.pinned is None else pool.pinned_to(exchange.pinned),
            parsed.operation.upstream_path,
            parsed.upstream_body(exchange.added),
            affinity=exchange.affinity,
            headers=upstream_headers,
            trace=trace,
            span=span,
            record_content=self._observer.record_content,
            slot=exchange.slot,
            priority_body=priority_body,
        )
        # The reply owns the upstream call from here: whichever path this request takes closes it
        # (which ends the CLIENT span), and the pipeline never ends that span itself.
        exchange.reply = reply
        exchange.backend = reply.backend
        status = exchange.facts.status = reply.response.status_code
        if status in (401, 403):
            # The backend refused the gateway's own credentials: a configuration problem, not the caller's.
            await reply.aclose()
            raise UpstreamFailure("The backend refused the gateway's credentials; contact the operators.")

        if parsed.stream and status == 200:
            timeouts = pool.config.timeouts
            transform = restore_span = None
            if exchange.restorer is not None:
                transform = StreamRestorer(exchange.restorer)
                restore_span = trace.span("restore")  # the relay ends it with the stream
            relay = StreamRelay(
                reply,
                strip_usage=not parsed.client_wants_usage,
                idle=timeouts.idle,
                total=timeouts.total,
                transform=transform,
                transform_span=restore_span,
                collect_finish_reasons=trace.traced,
                protocol=parsed.operation.stream_protocol,
                read_usage=parsed.operation.usage_in_stream,
                mask=exchange.masker,
                annotate_usage=self._usage_annotator(exchange) if self._usage_fields else None,
            )
            events: AsyncIterator[bytes] = relay
            if keeps and sticky is not None:
                events = sticky.recording(relay, parsed.model, exchange.principal, reply.backend)
            return Stream(
                events,
                media_type="text/event-stream",
                headers={**_SSE_HEADERS, **exchange.response_headers},
                background=BackgroundTask(self._finish_stream, exchange, relay),
            )
        content = await reply.read_all(
            pool.config.timeouts, parsed.operation.usage_in_answer
        )  # closes the reply, read or not
        if status == _NOT_IMPLEMENTED or (status == 404 and content.startswith(_ROUTE_NOT_FOUND)):
            # vLLM registers only the routes its model serves, so a bare FastAPI 404 (or a 501)
            # means this model does not do this operation: the caller's mistake, said as the
            # configured capabilities say it. The backend answered, so it stays in service.
            raise operation_not_supported(parsed.model, parsed.operation)
        usage = reply.usage
        if status < 400:  # a translation reports no usage: metered with the seconds read
            usage = metered_audio(usage, parsed.audio_seconds)
        if keeps and status == 200 and sticky is not None:
            # Before the answer leaves: its id must be known by the time the client can ask for it.
            await sticky.record_answer(content, parsed.model, exchange.principal, reply.backend)
        if exchange.restorer is not None:
            with trace.step("restore"):
                content = exchange.restorer.restore_body(content)
        if exchange.masker is not None and status < 400:
            with trace.step("mask"):
                content = await exchange.masker.mask_body(content)
        media_type = reply.response.headers.get("content-type", "application/json")
        if status >= 400:  # the backend's refusal, in the shape the route's clients read
            content = relayed_error(parsed.operation.error_format, status, content)
        spent: Spent | None = None
        headers = exchange.response_headers
        if usage is not None:  # known before the answer leaves: said in its headers
            spent = self._pricing.spend(
                parsed.model, usage, time.perf_counter() - exchange.facts.started, exchange.price_factor
            )
            headers = {**headers, **spent_headers(spent)}
            if self._usage_fields and status < 400:
                content = with_usage_fields(content, spent)
        return Response(
            content,
            status_code=status,
            media_type=media_type,
            headers=headers,
            background=BackgroundTask(self._finish, exchange, usage, spent),
        )

    def _usage_annotator(self, exchange: Exchange) -> Callable[[Usage, bytes], bytes]:
        """What adds the cost and energy to a stream's usage chunk, when the client asked for it."""

        def annotate(usage: Usage, event: bytes) -> bytes:
            latency = time.perf_counter() - exchange.facts.started
            spent = self._pricing.spend(exchange.parsed.model, usage, latency, exchange.price_factor)
            return with_usage_fields(event, spent)

        return annotate

    async def _finish(self, exchange: Exchange, usage: Usage | None, spent: Spent | None) -> None:
        """After the last byte: settle with the backend's usage (release when it reported none)."""
        await self._account(exchange, usage, spent)

    async def _account(self, exchange: Exchange, usage: Usage | None, spent: Spent | None = None) -> None:
        """End the reservation, write the usage record and observe the request: the one place a
        forwarded request is charged and concluded."""
        facts = exchange.facts
        model = exchange.parsed.model
        if spent is None:  # a stream's, or a request that ended without an answer
            latency = time.perf_counter() - facts.started
            spent = self._pricing.spend(model, usage or _NO_USAGE, latency, exchange.price_factor)
        with facts.trace.step("settle"):
            if usage is None:
                await exchange.charge.release()
                usage = _NO_USAGE
            else:
                await exchange.charge.settle(usage, spent)
        facts.prompt_tokens, facts.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        facts.cached_tokens, facts.audio_seconds = usage.cached_tokens, usage.audio_seconds
        facts.weighted_cost, facts.cost_eur = spent.weighted_cost, spent.cost_eur
        facts.energy_wh, facts.emissions_gco2eq = spent.energy_wh, spent.emissions_gco2eq
        facts.backend = exchange.backend.url if exchange.backend is not None else ""
        # One record for the usage store and the audit log, so that both say the same.
        record = facts.record()
        self._recorder.record(record)
        self._observer.conclude(facts, record)

    async def _abandon(self, exchange: Exchange, error: str) -> None:
        """A failure the gateway did not foresee: give the reservation back and still observe it."""
        await exchange.charge.release()
        facts = exchange.facts
        facts.status, facts.error = facts.status or 500, error
        if exchange.reply is not None:
            await exchange.reply.aclose()  # whatever failed may have left it open
        self._observer.conclude(facts)

    async def _finish_stream(self, exchange: Exchange, relay: StreamRelay) -> None:
        await relay.aclose()  # ends the upstream call, if the stream's end did not already
        if not relay.ended_upstream:
            # The client hung up mid-stream: what the records and the trace say it got.
            exchange.facts.status, exchange.facts.error = _CLIENT_CLOSED_REQUEST, "client_disconnected"
        usage = relay.usage
        if usage is not None:  # a stream's usage counts tokens: its seconds are those read
            usage = metered_audio(usage, exchange.parsed.audio_seconds)
        if relay.first_event_at is not None:
            exchange.facts.first_event_at = relay.first_event_at
        if usage is not None:
            await self._account(exchange, usage)
            return
        # The stream ended before its usage chunk (the client left, or the backend failed): charge
        # what was generated, one token per relayed event after each choice's opening chunk.
        opening = exchange.parsed.operation.choices(exchange.parsed.payload)
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
        parsed = exchange.parsed
        prompt = await self._forwarder.count_prompt_tokens(
            exchange.backend, parsed.model, parsed.operation.tokenize_prompt(parsed.payload)
        )
        await self._account(exchange, Usage(prompt if prompt is not None else charge.input_bound, generated))


@dataclass(frozen=True, slots=True)
class InternalAnswer:
    """The answer to a request made inside the gateway (`Pipeline.handle_internal`)."""

    status: int
    body: bytes
    """The backend's JSON answer, or its error in OpenAI's shape."""
    request_id: str


class ClientLeft(Exception):
    """The client disconnected while its request waited in the admission queue."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A request that steps 1 to 4 let through, before it waits for a slot and reserves."""

    principal: Principal
    parsed: ParsedRequest
    pool: ModelPool
    rank: int
    """Its priority class (0: interactive)."""
    affinity: int | None
    """The hash of its conversation's opening, for prefix affinity."""
    pinned: Backend | None
    """The only backend that may answer (it holds the request's previous response), if any."""
    restorer: PlaceholderRestorer | None
    """What restores this request's placeholders in the answer, when values were pseudonymized."""
    masker: TranscriptMasker | None
    """What masks the personal data of a transcript in the answer (operations that `masks_answer`)."""

    def exchange(
        self, facts: RequestFacts, charge: Charge, added: dict[str, Any] | None, slot: Slot | None
    ) -> Exchange:
        exchange = Exchange(facts, self.principal, self.parsed, self.pool, charge, added)
        exchange.restorer, exchange.masker, exchange.pinned = self.restorer, self.masker, self.pinned
        exchange.rank, exchange.affinity, exchange.slot = self.rank, self.affinity, slot
        exchange.response_headers["x-gateway-queue-ms"] = (
            str(round(slot.waited * 1000)) if slot is not None else "0"
        )
        return exchange


class Exchange:
    """What one request carries from its reservation to its settlement."""

    __slots__ = (
        "added",
        "affinity",
        "backend",
        "charge",
        "facts",
        "masker",
        "parsed",
        "pinned",
        "pool",
        "price_factor",
        "principal",
        "rank",
        "reply",
        "response_headers",
        "restorer",
        "slot",
    )

    def __init__(
        self,
        facts: RequestFacts,
        principal: Principal,
        parsed: ParsedRequest,
        pool: ModelPool,
        charge: Charge,
        added: dict[str, Any] | None,
    ) -> None:
        self.facts = facts
        self.principal = principal
        self.parsed = parsed
        self.pool = pool
        self.charge = charge
        self.added = added
        # What the request's usage costs relative to an interactive one (`quotas.batch_price_factor`
        # for a batch's lines).
        self.price_factor = 1.0
        self.backend: Backend | None = None
        # The only backend that may answer (it holds the request's previous response), if any.
        self.pinned: Backend | None = None
        self.reply: UpstreamReply | None = None
        # What restores this request's placeholders in the answer, when values were pseudonymized.
        self.restorer: PlaceholderRestorer | None = None
        # What masks the personal data of a transcript in the answer (operations that `masks_answer`).
        self.masker: TranscriptMasker | None = None
        # Its priority class, its conversation's hash, and the backend slot admission granted it.
        self.rank = 0
        self.affinity: int | None = None
        self.slot: Slot | None = None
        self.response_headers = {"x-request-id": facts.request_id, **charge.headers}
        if facts.trace.trace_id is not None:
            self.response_headers["x-trace-id"] = facts.trace.trace_id
