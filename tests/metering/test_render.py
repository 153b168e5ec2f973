"""Rendering a report: aligned table, CSV a spreadsheet reads back exactly, JSON."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from gateway.metering import (
    InvalidUsageQuery,
    UsageCell,
    UsageReport,
    render,
    render_csv,
    render_json,
    render_table,
    usage_report,
)
from tests.metering.fakes import CannedCells

CELLS = [
    UsageCell(department="dgfip", service="assistant-courrier", model="mistral-small", day="2026-11-02",
              requests=3, prompt_tokens=1200, completion_tokens=300, cached_tokens=100, weighted_cost=2100,
              cost_micro_eur=1_234_567),
    UsageCell(department="dgfip", service='ocr, "v2"', model="llama3:70b", day="2026-11-03",
              requests=1, prompt_tokens=7, completion_tokens=0, cached_tokens=0, weighted_cost=7, cost_micro_eur=1),
    UsageCell(department="dinum", service="albert", model="mistral-small", day="2026-11-03",
              requests=12_345, prompt_tokens=98_765_432, completion_tokens=1_234_567, cached_tokens=5,
              weighted_cost=100_000_000, cost_micro_eur=999_999),
]  # fmt: skip


async def report(by: str = "service", department: str | None = None) -> UsageReport:
    return await usage_report(CannedCells(CELLS), "2026-11", by=by, department=department)


@pytest.mark.asyncio
async def test_csv_reads_back_exactly_and_has_no_total_line() -> None:
    built = await report("service")
    rows = list(csv.DictReader(io.StringIO(render_csv(built))))
    assert list(rows[0]) == [
        "department", "service", "requests", "prompt_tokens", "completion_tokens", "cached_tokens",
        "total_tokens", "weighted_cost", "cost_eur",
    ]  # fmt: skip
    assert [(row["department"], row["service"]) for row in rows] == [row.key for row in built.rows]
    assert rows[1]["service"] == 'ocr, "v2"'  # quoted, not split
    assert rows[0]["cost_eur"] == "1.234567" and rows[1]["cost_eur"] == "0.000001"
    assert sum(Decimal(row["cost_eur"]) for row in rows) == Decimal("2.234567")
    assert sum(int(row["total_tokens"]) for row in rows) == built.total.total_tokens == 100_001_506


@pytest.mark.asyncio
async def test_json_is_the_admin_document() -> None:
    built = await report("model", department="dgfip")
    document = json.loads(render_json(built))
    assert document == built.as_json()
    assert document["rows"] == [
        {"model": "llama3:70b", "requests": 1, "prompt_tokens": 7, "completion_tokens": 0, "cached_tokens": 0,
         "total_tokens": 7, "weighted_cost": 7, "cost_eur": 0.000001, "cost_micro_eur": 1},
        {"model": "mistral-small", "requests": 3, "prompt_tokens": 1200, "completion_tokens": 300,
         "cached_tokens": 100, "total_tokens": 1500, "weighted_cost": 2100, "cost_eur": 1.234567,
         "cost_micro_eur": 1_234_567},
    ]  # fmt: skip
    assert document["total"]["cost_micro_eur"] == 1_234_568 and document["department"] == "dgfip"


@pytest.mark.asyncio
async def test_the_table_is_aligned_and_ends_with_the_total() -> None:
    built = await report("day")
    title, blank, header, *rows, rule, total = render_table(built).splitlines()
    assert title == "Usage 2026-11 (Europe/Paris) by day" and blank == ""
    assert header.split() == [
        "DAY", "REQUESTS", "PROMPT_TOKENS", "COMPLETION_TOKENS", "CACHED_TOKENS", "TOTAL_TOKENS", "WEIGHTED_COST",
        "COST_EUR",
    ]  # fmt: skip
    assert [row.split()[0] for row in rows] == ["2026-11-02", "2026-11-03"]
    # Numbers are right-aligned: every line ends its columns at the same places.
    ends = {len(line) for line in (header, *rows, rule, total)}
    assert len(ends) == 1
    gaps = [index for index, character in enumerate(rule) if character == " "]
    for line in (header, *rows, total):
        assert all(line[index] == " " for index in gaps), line
    assert total.split() == [
        "TOTAL",
        "12349",
        "98766639",
        "1234867",
        "105",
        "100001506",
        "100002107",
        "2.234567",
    ]
    assert rows[1].split()[1] == str(12_345 + 1)


@pytest.mark.asyncio
async def test_a_department_table_says_so_and_render_refuses_unknown_formats() -> None:
    built = await report("service", department="dinum")
    assert render_table(built).splitlines()[0].endswith(", department dinum")
    assert render(built, "csv") == render_csv(built)
    assert json.loads(render(built, "json")) == built.as_json()
    with pytest.raises(InvalidUsageQuery) as caught:
        render(built, "xlsx")
    assert caught.value.param == "format"
