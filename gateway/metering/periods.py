"""Calendar months and days in the metering time zone (Europe/Paris unless configured otherwise).

A record counts in the local day and month that contain its `time`. Every boundary is the epoch of
a local midnight, a whole number of seconds, and every store decides with the same comparison,
`start <= time < end`, so that the SQLite store (which groups by ranges at query time) and the Redis
store (which picks a rollup at write time) always agree, daylight-saving days (23 or 25 hours)
included.
"""

from __future__ import annotations

import bisect
import math
import re
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.metering.errors import InvalidUsageQuery

__all__ = ["DEFAULT_TIMEZONE", "Calendar", "Period", "load_zone"]

DEFAULT_TIMEZONE = "Europe/Paris"

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def load_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or `InvalidUsageQuery` if this system does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidUsageQuery(f"unknown time zone {name!r}, e.g. Europe/Paris", "timezone") from None


def _midnight(day: date, zone: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


class Period:
    """One calendar month in one time zone: `[start, end)` in epoch seconds, and its days."""

    __slots__ = ("_day_starts", "days", "end", "month", "name", "start", "year", "zone")

    def __init__(self, year: int, month: int, zone: ZoneInfo) -> None:
        if not (1 <= month <= 12 and 1 <= year <= 9998):
            raise InvalidUsageQuery(f"no such month: {year}-{month}", "period")
        self.year = year
        self.month = month
        self.zone = zone
        self.name = f"{year:04d}-{month:02d}"
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        dates = [first + timedelta(days=offset) for offset in range((following - first).days)]
        self.days: tuple[str, ...] = tuple(day.isoformat() for day in dates)
        """`YYYY-MM-DD` of every day of the month."""
        self._day_starts = [_midnight(day, zone) for day in dates]
        self.start: int = self._day_starts[0]
        self.end: int = _midnight(following, zone)

    @classmethod
    def parse(cls, text: str, zone: ZoneInfo) -> Period:
        """`2026-11` -> that month in `zone`; `InvalidUsageQuery` for anything else."""
        match = _MONTH.fullmatch(text)
        if match is None:
            raise InvalidUsageQuery(
                f"period must be a month written YYYY-MM, e.g. 2026-11; got {text!r}", "period"
            )
        return cls(int(match[1]), int(match[2]), zone)

    def __repr__(self) -> str:
        return f"Period({self.name!r}, {self.zone.key!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Period) and (self.name, self.zone.key) == (other.name, other.zone.key)

    def __hash__(self) -> int:
        return hash((self.name, self.zone.key))

    def contains(self, instant: float) -> bool:
        return self.start <= instant < self.end

    def day_of(self, instant: float) -> str:
        """The local day of `instant`, which must lie in this period."""
        if not self.contains(instant):
            raise ValueError(f"{instant} is not in {self.name} ({self.zone.key})")
        return self.days[bisect.bisect_right(self._day_starts, instant) - 1]

    def day_ranges(self) -> list[tuple[str, int, int]]:
        """`(day, start, end)` for every day, in order; the ends meet the next starts."""
        ends = [*self._day_starts[1:], self.end]
        return list(zip(self.days, self._day_starts, ends, strict=True))

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1, self.zone)

    def following(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1, self.zone)


class Calendar:
    """Finds the local month and day of record times, fast when they come in order (they do)."""

    __slots__ = ("_day", "_day_end", "_day_start", "_period", "_periods", "zone")

    _MAX_PERIODS = 48

    def __init__(self, zone: ZoneInfo | str = DEFAULT_TIMEZONE) -> None:
        self.zone = zone if isinstance(zone, ZoneInfo) else load_zone(zone)
        self._periods: dict[tuple[int, int], Period] = {}
        # The last day located: most records of a batch fall in it.
        self._day_start = 0.0
        self._day_end = 0.0
        self._day = ""
        self._period: Period | None = None

    def current(self, now: float | None = None) -> Period:
        """The month that contains `now` (default: this instant)."""
        return self.locate(time.time() if now is None else now)[0]

    def period(self, name: str) -> Period:
        """The month called `name` (`2026-11`) in this calendar's zone."""
        match = _MONTH.fullmatch(name)
        if match is None:
            return Period.parse(name, self.zone)  # raises, with the message
        return self._cached(int(match[1]), int(match[2]))

    def _cached(self, year: int, month: int) -> Period:
        period = self._periods.get((year, month))
        if period is None:
            if len(self._periods) >= self._MAX_PERIODS:
                self._periods.clear()
            period = self._periods[(year, month)] = Period(year, month, self.zone)
        return period

    def locate(self, instant: float) -> tuple[Period, str]:
        """The month and the local day (`YYYY-MM-DD`) that contain `instant`."""
        if self._day_start <= instant < self._day_end and self._period is not None:
            return self._period, self._day
        if not math.isfinite(instant):
            raise ValueError(f"not a time: {instant}")
        local = datetime.fromtimestamp(math.floor(instant), self.zone)
        period = self._cached(local.year, local.month)
        # Only a zone whose clocks jump at midnight could put the local date on the other side of a
        # boundary computed from midnights: the boundaries decide.
        while instant < period.start:
            period = self._cached(period.previous().year, period.previous().month)
        while instant >= period.end:
            period = self._cached(period.following().year, period.following().month)
        index = bisect.bisect_right(period._day_starts, instant) - 1
        day = period.days[index]
        self._day_start = period._day_starts[index]
        self._day_end = period._day_starts[index + 1] if index + 1 < len(period.days) else period.end
        self._day, self._period = day, period
        return period, day
