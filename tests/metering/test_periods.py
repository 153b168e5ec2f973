"""Months and days in Europe/Paris: boundaries, daylight-saving days, malformed periods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.metering import Calendar, InvalidUsageQuery, Period
from tests.metering.conftest import EDGES, NOVEMBER_START, PARIS, local_day


def test_a_paris_month_starts_at_local_midnight() -> None:
    november = Calendar("Europe/Paris").period("2026-11")
    assert datetime.fromtimestamp(november.start, UTC) == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    assert datetime.fromtimestamp(november.end, UTC) == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert november.days[0] == "2026-11-01" and november.days[-1] == "2026-11-30" and len(november.days) == 30


def test_daylight_saving_days_last_23_and_25_hours() -> None:
    calendar = Calendar("Europe/Paris")
    october = {day: end - start for day, start, end in calendar.period("2026-10").day_ranges()}
    march = {day: end - start for day, start, end in calendar.period("2026-03").day_ranges()}
    assert october["2026-10-25"] == 25 * 3600 and march["2026-03-29"] == 23 * 3600
    assert {length for day, length in october.items() if day != "2026-10-25"} == {86_400}
    assert sum(october.values()) == calendar.period("2026-10").end - calendar.period("2026-10").start


def test_locate_agrees_with_zoneinfo_on_every_edge() -> None:
    calendar = Calendar("Europe/Paris")
    for instant in EDGES:
        period, day = calendar.locate(instant)
        assert day == local_day(instant), instant
        assert period.name == day[:7] and period.contains(instant)
    assert calendar.locate(NOVEMBER_START - 0.000_001)[1] == "2026-10-31"
    assert calendar.locate(NOVEMBER_START)[1] == "2026-11-01"


def test_locate_walks_back_and_forth_between_months() -> None:
    calendar = Calendar("Europe/Paris")
    seen = [calendar.locate(NOVEMBER_START + offset)[1] for offset in (10.0, -10.0, 10.0, 86_400 * 40, -10.0)]
    assert seen == ["2026-11-01", "2026-10-31", "2026-11-01", "2026-12-11", "2026-10-31"]


def test_other_time_zones_have_other_boundaries() -> None:
    utc = Calendar("UTC").period("2026-11")
    paris = Calendar("Europe/Paris").period("2026-11")
    assert utc.start - paris.start == 3600
    assert Calendar("UTC").locate(NOVEMBER_START)[1] == "2026-10-31"


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-1", "26-11", "2026/11", "2026-11-01", "", "2026-00", "novembre"]
)
def test_malformed_periods_are_refused(text: str) -> None:
    with pytest.raises(InvalidUsageQuery) as caught:
        Calendar("Europe/Paris").period(text)
    assert caught.value.param == "period" and "YYYY-MM" in str(caught.value)


def test_unknown_time_zones_are_refused() -> None:
    with pytest.raises(InvalidUsageQuery) as caught:
        Calendar("Europe/Lutece")
    assert caught.value.param == "timezone"


def test_periods_compare_by_month_and_zone() -> None:
    assert Period(2026, 11, PARIS) == Calendar("Europe/Paris").period("2026-11")
    assert Period(2026, 11, PARIS) != Calendar("UTC").period("2026-11")
    assert Period(2026, 12, PARIS).following().name == "2027-01"
    assert Period(2026, 1, PARIS).previous().name == "2025-12"
    with pytest.raises(ValueError, match="not in"):
        Period(2026, 11, PARIS).day_of(NOVEMBER_START - 1)
