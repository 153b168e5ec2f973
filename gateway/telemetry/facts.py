"""What happened to one request, filled in step by step and observed once, at its end.

The same facts feed the trace's SERVER span, the metrics and, through `RequestFacts.record()`, the
one `RequestRecord` that metering and the audit log both write, so they all agree. They hold
identifiers, entity types and counts only: never prompt text, personal data or keys.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from gateway.operations import Operation
from gateway.request_record import RequestRecord
from gateway.telemetry.request_trace import NO_TRACE, AnyTrace

__all__ = ["UNKNOWN_MODEL", "RequestFacts"]

UNKNOWN_MODEL = "unknown"
"""The model recorded for a name that no `models` entry defines (the metrics' label for it too): the
client's own string, which may be anything, is never recorded."""


class RequestFacts:
    """One request's identifiers, decisions, outcome and usage."""

    __slots__ = (
        "admitted",
        "audio_seconds",
        "backend",
        "cached_tokens",
        "completion_tokens",
        "cost_eur",
        "decision",
        "department",
        "emissions_gco2eq",
        "energy_wh",
        "error",
        "first_event_at",
        "key_id",
        "model",
        "operation",
        "pii",
        "prompt_tokens",
        "request_id",
        "rule",
        "service",
        "started",
        "status",
        "trace",
        "weighted_cost",
    )

    def __init__(
        self, request_id: str, operation: Operation, started: float, trace: AnyTrace = NO_TRACE
    ) -> None:
        self.request_id = request_id
        self.operation = operation
        self.started = started
        self.trace = trace
        self.department = ""
        self.service = ""
        self.key_id = ""
        self.model = ""
        self.decision: Literal["allow", "deny"] | None = None
        """`allow` or `deny` once authorization ran."""
        self.rule: str | None = None
        """The policy line that decided, as written in the policy file."""
        self.pii: dict[str, int] | None = None
        self.backend = ""
        self.status = 0
        self.error: str | None = None
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cached_tokens = 0
        self.audio_seconds = 0
        self.cost_eur = 0.0
        self.weighted_cost = 0
        self.energy_wh = 0.0
        self.emissions_gco2eq = 0.0
        self.first_event_at: float | None = None
        """`time.perf_counter()` when a stream's first event left for the client."""
        self.admitted = False
        """Whether the request got past its reservation (it then counts as in flight)."""

    def identity_attributes(self) -> dict[str, Any]:
        return {
            "gateway.department": self.department,
            "gateway.service": self.service,
            "gateway.key_id": self.key_id,
        }

    def record(self) -> RequestRecord:
        """The request's record, as it stands now: the one builder of what metering and the audit
        log write. Call it once, when the request is over; it reads the clocks once each."""
        return RequestRecord(
            time=time.time(),
            request_id=self.request_id,
            department=self.department,
            service=self.service,
            key_id=self.key_id,
            model=self.model,
            backend=self.backend,
            operation=self.operation.value,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cached_tokens=self.cached_tokens,
            weighted_cost=self.weighted_cost,
            cost_eur=self.cost_eur,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            status=self.status,
            trace_id=self.trace.trace_id,
            decision=self.decision,
            rule=self.rule,
            pii=self.pii,
            audio_seconds=self.audio_seconds,
            energy_wh=self.energy_wh,
            emissions_gco2eq=self.emissions_gco2eq,
        )
