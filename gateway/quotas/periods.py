"""Calendar periods (day, month) in a time zone, and the rolling minute's buckets.

Days and months begin at local midnight; their length in seconds follows the zone's summer time
(a day of 23 or 25 hours in Europe/Paris at the end of March and October), because their bounds are
computed from local dates, never by adding 86,400 seconds.

The rolling minute is counted in buckets of `BUCKET_MS`: a limit counts every bucket that overlaps the
last 60 seconds, so it never lets more than the limit through in any 60 seconds; the price is that it
remembers up to one bucket more (usage from 60 to 65 seconds ago may still count). Both ledgers use
these constants, the Redis one inside its Lua scripts.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

__all__ = [
    "BUCKET_MS",
    "WINDOW_BUCKETS",
    "Calendar",
    "Period",
    "bucket_of",
    "oldest_bucket",
    "window_reset_ms",
]

BUCKET_MS = 5_000
"""Width of one bucket of the rolling minute, in milliseconds."""
WINDOW_BUCKETS = 60_000 // BUCKET_MS
"""Buckets before the current one that a rolling minute still counts (12, plus the current one)."""


def bucket_of(now_ms: int) -> int:
    return now_ms // BUCKET_MS


def oldest_bucket(bucket: int) -> int:
    """The oldest bucket that still counts when `bucket` is the current one."""
    return bucket - WINDOW_BUCKETS


def window_reset_ms(bucket: int, now_ms: int) -> int:
    """Milliseconds until the usage recorded in `bucket` stops counting."""
    return (bucket + WINDOW_BUCKETS + 1) * BUCKET_MS - now_ms


class Period(NamedTuple):
    """One calendar day or month: its id (`2026-11-03`, `2026-11`) and bounds, epoch seconds."""

    id: str
    start: float
    end: float


class Calendar:
    """Days and months in one time zone; remembers the current ones, so most calls cost a comparison."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        # One value, replaced whole: safe to read from another thread.
        self._current = (Period("", 0.0, 0.0), Period("", 0.0, 0.0))

    def _midnight(self, day: date) -> float:
        return datetime(day.year, day.month, day.day, tzinfo=self.zone).timestamp()

    def periods(self, now: float) -> tuple[Period, Period]:
        """The day and the month that contain `now` (epoch seconds)."""
        current = self._current
        if current[0].start <= now < current[0].end:
            return current
        today = datetime.fromtimestamp(now, self.zone).date()
        tomorrow = today + timedelta(days=1)
        day = Period(today.isoformat(), self._midnight(today), self._midnight(tomorrow))
        first = today.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        month = Period(first.isoformat()[:7], self._midnight(first), self._midnight(following))
        self._current = (day, month)
        return day, month

    def local(self, when: float) -> str:
        """`when` as local time for people: `2026-11-01 00:00 Europe/Paris`."""
        return f"{datetime.fromtimestamp(when, self.zone):%Y-%m-%d %H:%M} {self.zone.key}"
