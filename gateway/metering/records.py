"""What is metered: the `METERED_FIELDS` of one `RequestRecord` per request, and `UsageCell`, the
sum of many of them.

The metered fields are counts and labels only: no prompt, no completion, no client address, nothing
about a person. `department`, `service` and `key_id` identify an application, not someone using it.
"""

from __future__ import annotations

import math
import operator

import msgspec

from gateway.request_record import RequestRecord

__all__ = [
    "COUNTERS",
    "METERED_FIELDS",
    "UsageCell",
    "check_record",
    "micro_euros",
    "micro_units",
    "read_metered",
]


METERED_FIELDS = (
    "time",
    "request_id",
    "department",
    "service",
    "key_id",
    "model",
    "backend",
    "operation",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "weighted_cost",
    "cost_eur",
    "latency_ms",
    "status",
    "trace_id",
    "audio_seconds",
    "energy_wh",
    "emissions_gco2eq",
)
"""The fields of a `RequestRecord` that usage stores keep, in their column (and stream entry) order.
Named here rather than taken from the struct, so that a field added for the audit log changes no
store schema and rows written before read back unchanged. A field added here comes last, with a
default on the struct: rows and entries written before it read back with that default."""

read_metered = operator.attrgetter(*METERED_FIELDS)
"""`record`'s metered values, as a tuple in `METERED_FIELDS` order."""


def micro_euros(cost_eur: float) -> int:
    """`cost_eur` in whole micro-euros, as every store and report counts it.

    Counters are integers so that sums are exact, whatever the order of addition and the store; the
    rounding happens once per record, at most half a micro-euro each.
    """
    return round(cost_eur * 1_000_000)


def micro_units(value: float) -> int:
    """Energy (Wh) or emissions (gCO2eq) in whole millionths, as stores and reports sum them."""
    return round(value * 1_000_000)


_LATEST = 32_503_680_000.0  # 3000-01-01: later is a bug, not a date
_LARGEST = 2**53  # counts beyond this are bugs too, and would not survive a float or an int64 sum
_TEXT_FIELDS = ("request_id", "department", "service", "key_id", "model", "backend", "operation")
_COUNT_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "weighted_cost",
    "status",
    "audio_seconds",
)


def check_record(record: RequestRecord) -> str | None:
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
    for name in ("cost_eur", "latency_ms", "energy_wh", "emissions_gco2eq"):
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
    "audio_seconds",
    "energy_micro_wh",
    "emissions_micro_g",
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
    audio_seconds: int = 0
    """Seconds of audio (transcriptions and translations); 0 in cells written before it was metered."""
    energy_micro_wh: int = 0
    """Estimated energy in micro-watt-hours; 0 in cells written before it was metered."""
    emissions_micro_g: int = 0
    """Estimated emissions in micrograms of CO2 equivalent; 0 in cells written before it was metered."""
