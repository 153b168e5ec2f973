"""`RequestRecord`: one finished request, as metering and the audit log both receive it.

One struct, built once per request by `RequestFacts.record()`, so that the usage store and the audit
line always agree (same time, same latency, same tokens and cost) and a new fact is added in one
place. Each consumer writes it in its own stable format: the usage stores keep the columns named by
`gateway.metering.records.METERED_FIELDS`, the audit log converts it to its line in its writer thread
(`gateway.audit.line.audit_line`).

A record holds ids, labels, types and counts only: never prompt or completion text, never a key or
its hash, never a client address, never a detected value. `department`, `service` and `key_id`
identify an application, not someone using it.

A leaf module (msgspec only), so that telemetry, metering and audit can all import it.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["Decision", "RequestRecord"]

Decision = Literal["allow", "deny"]


class RequestRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What one request was and did, from its arrival to its last byte.

    The fields after `status` are known only to the request that produced the record: records read
    back from a usage store have their defaults."""

    time: float
    """When the request ended (epoch seconds, UTC). It decides the day and month the request counts
    in; the audit line writes it as RFC 3339 with milliseconds."""
    request_id: str
    """The gateway's id of the request (the response's `x-request-id`)."""
    department: str
    """The ministry direction the key belongs to; empty when the request ended before authentication."""
    service: str
    """The team or application inside the department."""
    key_id: str
    """The key's public id (never the key, never its hash)."""
    model: str
    """The model name the client asked for, as configured in the gateway; `unknown` when the body
    named no configured model or could not be read (the client's string is never kept), empty when
    the request ended before its body was read (401)."""
    backend: str
    """Which backend answered (its URL); empty when none was reached, e.g. on a denial."""
    operation: str
    """`chat`, `completions`, `embeddings`, `responses` (`gateway.operations.Operation.value`)."""
    prompt_tokens: int
    """Input tokens, as the backend counted them (0 when the request never reached one)."""
    completion_tokens: int
    """Output tokens, as the backend counted them (those actually generated for a client that left)."""
    cached_tokens: int
    """The part of `prompt_tokens` served from the prefix cache (`prompt_tokens_details.cached_tokens`);
    not added to the total, since it is already in `prompt_tokens`."""
    weighted_cost: int
    """What the request cost of the token budget, weights and model multiplier applied."""
    cost_eur: float
    """Price in euros from the configured price per million tokens; 0 when the model has no price.
    Usage stores count it in whole micro-euros (`gateway.metering.micro_euros`)."""
    latency_ms: float
    """From the request's arrival to its last byte sent, in milliseconds, unrounded."""
    status: int
    """The HTTP status returned to the client (499: the client left before the answer)."""
    trace_id: str | None = None
    """The OpenTelemetry trace id (32 hex digits), when the request was traced."""
    decision: Decision | None = None
    """The authorization's verdict; None when the request ended before authorization."""
    rule: str | None = None
    """The policy line that decided, as `gateway.audit.rule_text` writes it; None when no line
    matched (denied by default)."""
    pii: dict[str, int] | None = None
    """Personal data found and treated, as counts per entity type (`{"EMAIL": 2}`); None or empty
    when none was found or redaction is off. Never the values."""
    audio_seconds: int = 0
    """Seconds of audio billed (transcriptions: the backend's `usage.seconds`); 0 for other operations.
    Priced by `price_per_audio_second` into `cost_eur`; kept by the usage stores (`METERED_FIELDS`),
    not in the audit line, whose format it would change (the audit log keeps the cost)."""
    energy_wh: float = 0.0
    """Estimated energy in watt-hours (`gateway.quotas.impacts`); 0 when the model's size is not
    configured or nothing was generated."""
    emissions_gco2eq: float = 0.0
    """Estimated emissions in grams of CO2 equivalent, with the configured electricity mix; 0 like
    `energy_wh`."""
