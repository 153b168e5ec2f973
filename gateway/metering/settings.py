"""The `metering` configuration section. The store itself is the `store` section (`StoreConfig`),
shared with keys and budgets: usage goes to the same Redis, or to a SQLite file next to the keys'."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.metering.errors import InvalidUsageQuery
from gateway.metering.periods import DEFAULT_TIMEZONE, load_zone

__all__ = ["MeteringConfig"]


class MeteringConfig(BaseModel):
    """How usage is buffered, written and kept."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    timezone: str = DEFAULT_TIMEZONE
    """IANA time zone of report days and months (a request at 23:30 UTC on 31 October counts in
    November in Paris). It must be `quotas.timezone` (the configuration is refused otherwise), so that
    reports and budgets count the same days and months. The Redis store files each record under
    its month and day when writing it: changing the zone applies to what is written afterwards."""
    flush_interval_seconds: Annotated[float, Field(gt=0, le=10)] = 0.5
    """How often buffered records are written. A crash loses at most this much usage."""
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 1000
    """Records per write; a full batch is written at once, without waiting for the interval."""
    max_buffered_records: Annotated[int, Field(ge=1000, le=10_000_000)] = 100_000
    """Records kept in memory (per worker) while the store is failing, about 500 bytes each (the
    default: about 50 MB, some 15 minutes at 100 requests per second); beyond this, new records are
    dropped, counted and logged."""
    close_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0
    """At shutdown, how long to keep trying to write what is buffered if the store is failing."""
    max_retry_delay_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    """Longest wait between two attempts to write to a failing store."""
    records_retention_days: Annotated[int, Field(ge=1, le=36_600)] = 120
    """Redis only: days after a month ends until its stream of records expires (export it before)."""
    rollups_retention_days: Annotated[int, Field(ge=1, le=36_600)] = 800
    """Redis only: days after a month ends until its rollups (what reports read) expire."""

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            load_zone(value)
        except InvalidUsageQuery as exc:
            raise ValueError(str(exc)) from None
        return value
