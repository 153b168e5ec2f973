"""The UsageStore contract, run against both stores: embedded (SQLite) and Redis (one server, a Cluster,
a Sentinel-watched master)."""

from __future__ import annotations

import pytest

from gateway.metering import Calendar, InvalidUsageQuery, UsageStore, micro_euros
from tests.metering.conftest import (
    NOVEMBER_START,
    Backend,
    by_request,
    expected_rows,
    generate_records,
    local_day,
    make_record,
    read_all,
    write_in_batches,
)
from tests.redis_topologies import STORE_KINDS

pytestmark = pytest.mark.parametrize("backend", STORE_KINDS, indirect=True)


@pytest.mark.asyncio
async def test_written_records_read_back_field_for_field(store: UsageStore) -> None:
    records = [
        make_record(
            NOVEMBER_START + 10.123456789, cost_eur=0.000_123_4, trace_id="0af7651916cd43dd8448eb211c80319c"
        ),
        make_record(
            NOVEMBER_START + 20, department="dinum", service="albert", model="mistralai/Mistral-Large-2411"
        ),
        make_record(NOVEMBER_START + 30, model="llama3:70b", prompt_tokens=0, completion_tokens=0),
    ]
    await store.write("batch-1", records)
    assert by_request(await read_all(store, "2026-11")) == by_request(records)
    assert await read_all(store, "2026-11", "dinum") == [records[1]]
    assert await read_all(store, "2026-10") == []


@pytest.mark.asyncio
async def test_a_batch_written_again_counts_once(store: UsageStore) -> None:
    records = [make_record(NOVEMBER_START + index, prompt_tokens=index) for index in range(50)]
    await store.write("batch-again", records)
    await store.write("batch-again", records)  # a retry after an attempt whose answer was lost
    await store.write("batch-other", records[:1])
    assert len(await read_all(store, "2026-11")) == 51
    (cell,) = await store.cells(store.calendar.period("2026-11"))
    assert cell.requests == 51 and cell.prompt_tokens == sum(range(50))


@pytest.mark.asyncio
async def test_an_empty_batch_is_a_no_op(store: UsageStore) -> None:
    await store.write("batch-empty", [])
    assert await store.cells(store.calendar.period("2026-11")) == []


@pytest.mark.asyncio
async def test_records_survive_reopening_the_store(backend: Backend) -> None:
    first = await backend.open()
    records = generate_records(1200, seed=7)
    await write_in_batches(first, records)
    await first.close()
    again = await backend.open()
    expected = [record for record in records if local_day(record.time).startswith("2026-11")]
    assert by_request(await read_all(again, "2026-11")) == by_request(expected)  # paged: more than 1000


@pytest.mark.asyncio
async def test_cells_are_exact_sums_per_department_service_model_and_day(store: UsageStore) -> None:
    records = generate_records(3000, seed=11)
    await write_in_batches(store, records, size=700)
    for month in ("2026-10", "2026-11"):
        cells = await store.cells(store.calendar.period(month))
        found = {
            (cell.department, cell.service, cell.model, cell.day): {
                "requests": cell.requests,
                "prompt_tokens": cell.prompt_tokens,
                "completion_tokens": cell.completion_tokens,
                "cached_tokens": cell.cached_tokens,
                "total_tokens": cell.prompt_tokens + cell.completion_tokens,
                "weighted_cost": cell.weighted_cost,
                "cost_micro_eur": cell.cost_micro_eur,
            }
            for cell in cells
        }
        assert len(found) == len(cells)  # one cell per group
        assert found == expected_rows(records, month, ("department", "service", "model", "day"))


@pytest.mark.asyncio
async def test_cells_of_one_department_hold_nothing_of_the_others(store: UsageStore) -> None:
    records = generate_records(800, seed=3)
    await write_in_batches(store, records)
    november = store.calendar.period("2026-11")
    for department in ("dgfip", "dgfip.ab", "dinum", "drees"):
        cells = await store.cells(november, department)
        assert cells and {cell.department for cell in cells} == {department}
        assert sum(cell.requests for cell in cells) == sum(
            1 for record in records if record.department == department and local_day(record.time) >= "2026-11-01"
            and local_day(record.time) < "2026-12"
        )  # fmt: skip
        listed = await read_all(store, "2026-11", department)
        assert listed and {record.department for record in listed} == {department}
    assert await store.cells(november, "dgfip.") == []
    assert await store.cells(november, "*") == []


@pytest.mark.asyncio
async def test_costs_are_counted_in_whole_micro_euros(store: UsageStore) -> None:
    prices = [0.1 + 0.2, 1e-7, 0.000_000_6, 12.345_678_9, 0.0]
    await store.write("batch-costs", [make_record(NOVEMBER_START + 1, cost_eur=price) for price in prices])
    (cell,) = await store.cells(store.calendar.period("2026-11"))
    assert cell.cost_micro_eur == sum(map(micro_euros, prices)) == 300_000 + 0 + 1 + 12_345_679


@pytest.mark.asyncio
async def test_a_period_in_another_time_zone_is_not_mixed_up(backend: Backend) -> None:
    store = await backend.open()
    await store.write("batch-tz", [make_record(NOVEMBER_START + 1800)])  # 00:30 in Paris, 23:30 UTC
    assert [cell.day for cell in await store.cells(store.calendar.period("2026-11"))] == ["2026-11-01"]
    utc_november = Calendar("UTC").period("2026-11")
    if backend.kind != "embedded":
        # Rollups are filed under the store's zone when written: another zone cannot be answered.
        with pytest.raises(InvalidUsageQuery) as caught:
            await store.cells(utc_november)
        assert caught.value.param == "timezone"
    else:
        # SQLite groups at query time: any zone is exact.
        assert await store.cells(utc_november) == []
        (cell,) = await store.cells(Calendar("UTC").period("2026-10"))
        assert cell.day == "2026-10-31"
