"""What is audited: one `AuditLine` per request, converted from its `RequestRecord` by the writer's
thread (`audit_line`), and the helpers that fill its text fields.

A line says who asked (department, service, key id), for what (model, operation), what the policy
decided and why (the rule), what the redaction found (counts per entity type), what it cost and how
it ended. It holds ids, labels, types and counts only: never prompt or completion text, never a key
or its hash, never a client address, never a detected value.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec

from gateway.request_record import Decision, RequestRecord

__all__ = ["AuditDecision", "AuditLine", "audit_line", "audit_time", "rule_text"]

AuditDecision = Decision


class AuditLine(msgspec.Struct, kw_only=True, frozen=True, gc=False, omit_defaults=True):
    """One request, as one JSON line of the audit log: the on-disk format, which `verify` and
    every reader of the files rely on.

    Every field up to `latency_ms` is required, so a line is always complete and every line has
    them in the same order (the order below), `null` included. `energy_wh` and `emissions_gco2eq`
    follow only on the lines of requests whose energy was estimated (a model of configured size):
    a line without them is byte for byte what the log wrote before they existed, and lines written
    before still read and verify. A chained line adds `seq` and `prev` after them (see
    `gateway.audit.chain`).
    """

    time: str
    """When the request ended: RFC 3339, UTC, milliseconds (`2026-11-03T09:15:02.123Z`, see
    `audit_time`)."""
    request_id: str
    """The gateway's id of the request (the response's `x-request-id`, the usage record's id)."""
    trace_id: str | None
    """The OpenTelemetry trace id (32 hex digits) when the request was traced."""
    department: str
    """The ministry direction the key belongs to."""
    service: str
    """The team or application inside the department."""
    key_id: str
    """The key's public id (never the key, never its hash)."""
    model: str
    """The model name the client asked for, as configured in the gateway; `unknown` when the body
    named no configured model or could not be read (the client's string is never written), empty
    when the request ended before its body was read (401)."""
    operation: str
    """`chat`, `completions`, `embeddings`, `responses` (`gateway.operations.Operation.value`)."""
    backend: str
    """Which backend answered (its URL); empty when none was reached, e.g. on a denial."""
    decision: AuditDecision | None
    """The authorization's verdict; null when the request ended before authorization (401, 400,
    unknown model)."""
    rule: str | None
    """The policy line that decided, as `rule_text` writes it; null when no line matched (denied by
    default)."""
    pii: dict[str, int]
    """Personal data found in the request and treated, as counts per entity type (`{"EMAIL": 2}`);
    empty when none was found or redaction is off. Never the values."""
    prompt_tokens: int
    """Input tokens, as the backend counted them (0 when the request never reached one)."""
    completion_tokens: int
    """Output tokens, as the backend counted them."""
    cost_eur: float
    """Price in euros from the configured price per million tokens; 0 when the model has no price."""
    weighted_cost: int
    """What the request cost of the token budget (weights and model multiplier applied)."""
    status: int
    """The HTTP status returned to the client (499: the client left before the answer)."""
    latency_ms: float
    """From the request's arrival to its last byte sent, in milliseconds."""
    energy_wh: float | None = None
    """Estimated energy in watt-hours; absent when not estimated."""
    emissions_gco2eq: float | None = None
    """Estimated emissions in grams of CO2 equivalent; absent when not estimated."""


def audit_line(record: RequestRecord) -> AuditLine:
    """`record` as its audit line. Called by the writer's thread, so that formatting the time costs
    the event loop nothing; the request path only builds the `RequestRecord`."""
    return AuditLine(
        time=audit_time(record.time),
        request_id=record.request_id,
        trace_id=record.trace_id,
        department=record.department,
        service=record.service,
        key_id=record.key_id,
        model=record.model,
        operation=record.operation,
        backend=record.backend,
        decision=record.decision,
        rule=record.rule,
        pii=record.pii or {},
        prompt_tokens=record.prompt_tokens,
        completion_tokens=record.completion_tokens,
        cost_eur=record.cost_eur,
        weighted_cost=record.weighted_cost,
        status=record.status,
        latency_ms=round(record.latency_ms, 3),
        energy_wh=record.energy_wh or None,
        emissions_gco2eq=record.emissions_gco2eq or None,
    )


def audit_time(epoch_seconds: float | None = None) -> str:
    """`epoch_seconds` (default: now) as RFC 3339 in UTC with milliseconds, `...T09:15:02.123Z`.

    Milliseconds are truncated, not rounded, so that a time never moves into the next second (or
    day); the float is first rounded to the microsecond, since `.123` is `.12299...` in binary.
    msgspec's own datetime encoding writes microseconds, hence this helper."""
    if epoch_seconds is None:
        epoch_seconds = time.time()
    whole, millis = divmod(round(epoch_seconds * 1_000_000) // 1000, 1000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(whole))}.{millis:03d}Z"


def rule_text(rule: Sequence[str] | None) -> str | None:
    """A policy line (`gateway.authz.Decision.rule`) as the record's `rule`: its fields joined by
    `, `, as in the policy file and in `gateway policy check`'s output."""
    return None if rule is None else ", ".join(rule)
