"""What is metered: one `UsageRecord` per request, and `UsageCell`, the sum of many of them.

A record holds counts and labels only: no prompt, no completion, no client address, nothing about
a person. `department`, `service` and `key_id` identify an application, not someone using it.
"""

from __future__ import annotations

import math

import msgspec

__all__ = ["COUNTERS", "UsageCell", "UsageRecord", "check_record", "micro_euros"]


class UsageRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The usage of one request, as the backend reported it.

    Built once per request by the pipeline's settle step and handed to `UsageRecorder.record`.
    """

    time: float
    """When the request ended (epoch seconds, UTC). It decides the day and month the request counts in."""
    request_id: str
    """The gateway's id of the request (also in the response's `x-request-id` and the audit log)."""
    department: str
    """The ministry direction the key belongs to."""
    service: str
    """The team or application inside the department."""
    key_id: str
    """The key's id (never the key)."""
    model: str
    """The model name the client asked for, as configured in the gateway."""
    backend: str
    """Which backend answered: its URL or label (empty if none was reached)."""
    operation: str
    """`chat`, `completions`, `embeddings`, `responses` (`gateway.operations.Operation.value`)."""
    prompt_tokens: int
    """Input tokens, as the backend counted them."""
    completion_tokens: int
    """Output tokens, as the backend counted them (those actually generated for a client that left)."""
    cached_tokens: int
    """The part of `prompt_tokens` served from the prefix cache (`prompt_tokens_details.cached_tokens`);
    not added to the total, since it is already in `prompt_tokens`."""
    weighted_cost: int
    """What the request cost of the token budget, weights and model multiplier applied."""
    cost_eur: float
    """Price in euros from the configured price per million tokens; 0 when the model has no price.
    Stores count it in whole micro-euros (see `micro_euros`)."""
    latency_ms: float
    """From the request's arrival to its last byte sent, in milliseconds."""
    status: int
    """The HTTP status returned to the client."""
    trace_id: str | None = None
    """The OpenTelemetry trace id (32 hex digits), when the request was traced."""


def micro_euros(cost_eur: float) -> int:
    """`cost_eur` in whole micro-euros, as every store and report counts it.

    Counters are integers so that sums are exact, whatever the order of addition and the store; the
    rounding happens once per record, at most half a micro-euro each.
    """
    return round(cost_eur * 1_000_000)


_LATEST = 32_503_680_000.0  # 3000-01-01: later is a bug, not a date
_LARGEST = 2**53  # counts beyond this are bugs too, and would not survive a float or an int64 sum
_TEXT_FIELDS = ("request_id", "department", "service", "key_id", "model", "backend", "operation")
_COUNT_FIELDS = ("prompt_tokens", "completion_tokens", "cached_tokens", "weighted_cost", "status")


def check_record(record: UsageRecord) -> str | None:
    """What makes `record` unstorable, or None. msgspec does not check types when a Struct is built
    in code, and one bad record must not block the batch it travels in: the recorder checks each one
    before writing (off the request path) and drops, counts and logs those that fail."""
    if type(record.time) not in (float, int) or not 0 <= record.time < _LATEST:
        return f"time {record.time!r}"
    for name in _TEXT_FIELDS:
        if type(getattr(record, name)) is not str:
            return f"{name} is not a string"
    for name in _COUNT_FIELDS:
        value = getattr(record, name)
        if type(value) is not int or not 0 <= value < _LARGEST:
            return f"{name} {value!r}"
    for name in ("cost_eur", "latency_ms"):
        value = getattr(record, name)
        if type(value) not in (float, int) or not (math.isfinite(value) and 0 <= value < _LARGEST):
            return f"{name} {value!r}"
    if record.trace_id is not None and type(record.trace_id) is not str:
        return "trace_id is not a string"
    return None


COUNTERS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "weighted_cost",
    "cost_micro_eur",
)
"""The summed quantities, in the order `UsageCell` and the Redis rollups keep them."""


class UsageCell(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The sums of the records of one (department, service, model, local day): the finest grain
    that reports read. Every report row is a sum of cells."""

    department: str
    service: str
    model: str
    day: str
    """The local calendar day, `YYYY-MM-DD`, in the store's time zone."""
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    weighted_cost: int = 0
    cost_micro_eur: int = 0
