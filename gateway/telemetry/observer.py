"""The observe step: starts each request's trace and, once the request is over, reports its facts
to the trace, the metrics and the audit log."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from gateway.audit import AuditLog
from gateway.operations import Operation
from gateway.request_record import RequestRecord
from gateway.telemetry.facts import RequestFacts
from gateway.telemetry.metrics import GatewayMetrics
from gateway.telemetry.request_trace import NO_TRACE, Tracing

__all__ = ["Observer"]


class Observer:
    """One per worker. Every part is optional; with all of them off, observing costs nothing."""

    def __init__(
        self,
        tracing: Tracing | None = None,
        audit: AuditLog | None = None,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self._tracing = tracing
        self._audit = audit
        self._metrics = metrics
        self.record_content = tracing is not None and tracing.record_content

    def start(
        self,
        operation: Operation,
        method: str,
        path: str,
        headers: Mapping[str, str],
        request_id: str,
        now: float,
    ) -> RequestFacts:
        trace = (
            self._tracing.start(method, path, headers, request_id) if self._tracing is not None else NO_TRACE
        )
        return RequestFacts(request_id, operation, now, trace)

    def admitted(self, facts: RequestFacts) -> None:
        """The request holds its reservation and goes upstream: it is in flight until concluded."""
        facts.admitted = True
        if self._metrics is not None:
            self._metrics.request_started(facts.model)

    def quota_refused(self, facts: RequestFacts, level: str, limit: str) -> None:
        if self._metrics is not None:
            self._metrics.quota_refused(facts.department, facts.service, level, limit)

    def waited(self, facts: RequestFacts, class_name: str, seconds: float) -> None:
        """The request got a backend slot after `seconds` in the admission queue."""
        if self._metrics is not None:
            self._metrics.admission_waited(facts.model, class_name, facts.department, seconds)

    def shed(self, facts: RequestFacts, class_name: str, reason: str) -> None:
        """Admission refused the request (`queue_full`, `max_wait`, `no_backend`)."""
        if self._metrics is not None:
            self._metrics.admission_shed(facts.model, class_name, facts.department, reason)

    def conclude(self, facts: RequestFacts, record: RequestRecord | None = None) -> None:
        """The request is over (answered, refused or abandoned): called exactly once per request.

        `record` is the one the pipeline built and metered, when it did; otherwise it is built here
        only if the audit log needs it, so a request never reads the clocks more than once each."""
        if record is None and self._audit is not None:
            record = facts.record()
        metrics = self._metrics
        if metrics is not None:
            if facts.admitted:
                first = facts.first_event_at
                metrics.request_finished(
                    facts.department,
                    facts.service,
                    facts.model,
                    facts.operation.value,
                    facts.status,
                    record.latency_ms / 1000 if record is not None else time.perf_counter() - facts.started,
                    first - facts.started if first is not None else None,
                    facts.prompt_tokens,
                    facts.completion_tokens,
                    facts.cost_eur,
                    facts.energy_wh,
                    facts.emissions_gco2eq,
                )
            else:
                metrics.request_rejected(
                    facts.department, facts.service, facts.model, facts.operation.value, facts.status
                )
            if facts.pii:
                metrics.pii_detected(facts.department, facts.pii)
        trace = facts.trace
        if trace is not NO_TRACE:
            attributes: dict[str, Any] = facts.identity_attributes()
            if facts.model:
                attributes["gen_ai.request.model"] = facts.model
            trace.annotate(attributes)
            trace.finish(facts.status, facts.error)
        if self._audit is not None and record is not None:
            self._audit.write(record)
