"""Reports: exact sums by every dimension over two months, the department filter, bad queries."""

from __future__ import annotations

import pytest

from gateway.metering import (
    InvalidUsageQuery,
    UsageCell,
    UsageReport,
    UsageStore,
    admin_usage,
    grouping,
    usage_report,
)
from gateway.request_record import RequestRecord
from tests.metering.conftest import DEPARTMENTS, expected_rows, generate_records, local_day, write_in_batches
from tests.metering.fakes import CannedCells

GROUPINGS = ["department", "service", "model", "day", "model,day", "department,model"]


def as_rows(report: UsageReport) -> dict[tuple[str, ...], dict[str, int]]:
    rows = {}
    for row in report.rows:
        rows[row.key] = {name: int(value) for name, value in row.measures().items() if name != "cost_eur"}
    assert len(rows) == len(report.rows)
    return rows


@pytest.fixture(scope="module")
def records() -> list[RequestRecord]:
    return generate_records(4000, seed=2026)


@pytest.mark.asyncio
@pytest.mark.parametrize("by", GROUPINGS)
async def test_reports_equal_the_sum_of_the_records_exactly(
    store: UsageStore, records: list[RequestRecord], by: str
) -> None:
    await write_in_batches(store, records, size=1000)
    for month in ("2026-10", "2026-11"):
        report = await usage_report(store, month, by=by)
        expected = expected_rows(records, month, report.columns)
        assert as_rows(report) == expected
        # The total is the sum of the rows, which is the sum of the records.
        assert report.total.requests == sum(row["requests"] for row in expected.values())
        assert report.total.cost_micro_eur == sum(row["cost_micro_eur"] for row in expected.values())
        assert report.total.total_tokens == sum(row["total_tokens"] for row in expected.values())
        assert [row.key for row in report.rows] == sorted(expected)
    # Both months together hold every record but those of September 30 and December 1.
    both = [await usage_report(store, month, by=by) for month in ("2026-10", "2026-11")]
    inside = [r for r in records if "2026-10-01" <= local_day(r.time) < "2026-12-01"]
    assert sum(report.total.requests for report in both) == len(inside) < len(records)


@pytest.mark.asyncio
@pytest.mark.parametrize("by", ["department", "service", "model", "day"])
async def test_a_department_report_never_shows_another_department(
    store: UsageStore, records: list[RequestRecord], by: str
) -> None:
    await write_in_batches(store, records[:1500])
    everyone = await usage_report(store, "2026-11", by="department")
    for department in DEPARTMENTS:
        report = await usage_report(store, "2026-11", by=by, department=department)
        assert report.department == department
        assert as_rows(report) == expected_rows(records[:1500], "2026-11", report.columns, department)
        if "department" in report.columns:
            assert {row.key[0] for row in report.rows} == {department}
        (own,) = [row for row in everyone.rows if row.key == (department,)]
        assert report.total.requests == own.requests and report.total.cost_micro_eur == own.cost_micro_eur
    nobody = await usage_report(store, "2026-11", by=by, department="dgfip.")
    assert nobody.rows == [] and nobody.total.requests == 0


LEAKED = [
    UsageCell(department="dgfip", service="a", model="m", day="2026-11-02", requests=1, prompt_tokens=5),
    UsageCell(department="dinum", service="a", model="m", day="2026-11-02", requests=7, prompt_tokens=9),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("by", ["model", "day", "service"])
async def test_the_filter_holds_even_if_a_store_leaks(by: str) -> None:
    report = await usage_report(CannedCells(LEAKED, leaky=True), "2026-11", by=by, department="dgfip")
    assert report.total.requests == 1 and report.total.prompt_tokens == 5
    assert all(row.requests == 1 for row in report.rows)


def test_grouping_brings_the_department_along_with_the_service() -> None:
    assert grouping("service") == ("department", "service")
    assert grouping("model, day") == ("model", "day")
    assert grouping(["service", "department", "model"]) == ("department", "service", "model")
    for wrong in ("user", "", "model,prompt", ","):
        with pytest.raises(InvalidUsageQuery) as caught:
            grouping(wrong)
        assert caught.value.param == "by"


@pytest.mark.asyncio
async def test_malformed_queries_are_refused_with_the_parameter_named(store: UsageStore) -> None:
    for arguments, param in (
        ({"period": "2026-13"}, "period"),
        ({"period": "2026-11", "by": "prompt"}, "by"),
        ({"period": "2026-11", "department": " "}, "department"),
    ):
        with pytest.raises(InvalidUsageQuery) as caught:
            await admin_usage(store, **arguments)
        assert caught.value.param == param


@pytest.mark.asyncio
async def test_admin_usage_is_json_ready_and_defaults_to_the_current_month(
    store: UsageStore, records: list[RequestRecord]
) -> None:
    await write_in_batches(store, records[:500])
    document = await admin_usage(store, period="2026-11", by="service", department="dinum")
    assert document["object"] == "usage_report" and document["period"] == "2026-11"
    assert document["start"] == "2026-11-01T00:00:00+01:00" and document["end"] == "2026-12-01T00:00:00+01:00"
    assert document["by"] == ["department", "service"] and document["department"] == "dinum"
    assert {row["department"] for row in document["rows"]} == {"dinum"}
    assert sum(row["requests"] for row in document["rows"]) == document["total"]["requests"] > 0
    assert set(document["total"]) == {
        "requests", "prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens", "weighted_cost",
        "cost_eur", "cost_micro_eur",
    }  # fmt: skip
    current = await admin_usage(store)
    assert current["period"] == store.calendar.current().name
    assert current == await admin_usage(store, period=current["period"])
