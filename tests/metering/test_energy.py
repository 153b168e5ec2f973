"""Energy and emissions in the usage stores: written, summed exactly and reported; what an older
gateway wrote (schema 2, Redis entries without them) reads 0 and opens."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import msgspec
import pytest
import redis.asyncio as redis

from gateway.metering import EmbeddedUsageStore, UsageStore, admin_usage, usage_report
from gateway.metering.redis_store import RedisUsageStore
from gateway.metering.reports import render_csv
from gateway.request_record import RequestRecord
from tests.metering.conftest import NOVEMBER_START, make_record, read_all
from tests.metering.test_audio_seconds import _VERSION_1

# Version 2 is version 1 with the audio seconds column.
_VERSION_2 = _VERSION_1.replace("PRAGMA user_version = 1;", "PRAGMA user_version = 2;").replace(
    "status INTEGER NOT NULL, trace_id TEXT\n);",
    "status INTEGER NOT NULL, trace_id TEXT, audio_seconds INTEGER NOT NULL DEFAULT 0\n);",
)


def _estimated(time: float, energy_wh: float, grams: float, request_id: str = "sized") -> RequestRecord:
    return msgspec.structs.replace(
        make_record(time, request_id=request_id), energy_wh=energy_wh, emissions_gco2eq=grams
    )


@pytest.mark.asyncio
async def test_energy_is_stored_summed_exactly_and_read_back(store: UsageStore) -> None:
    records = [_estimated(NOVEMBER_START + i, 0.1, 0.003, f"r{i}") for i in range(10)]
    await store.write("batch-1", [*records, make_record(NOVEMBER_START + 20)])
    read = {stored.request_id: stored for stored in await read_all(store, "2026-11")}
    assert read["r3"] == records[3]
    report = await usage_report(store, "2026-11", by="model")
    # Ten times 0.1 Wh is 1 Wh exactly: the stores sum micro-units, not floats.
    assert report.total.energy_micro_wh == 1_000_000 and report.total.emissions_micro_g == 30_000
    assert report.as_json()["total"]["energy_wh"] == 1.0


@pytest.mark.asyncio
async def test_a_database_of_schema_2_is_upgraded_and_its_rows_read_zero(tmp_path: Path) -> None:
    path = tmp_path / "gateway.usage.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(_VERSION_2.replace("NOVEMBER", str(NOVEMBER_START)))
    connection.close()
    reader = await EmbeddedUsageStore.open(path, read_only=True)  # reads it, never upgrades it
    try:
        (old,) = await read_all(reader, "2026-11")
        assert old.request_id == "old-request" and old.energy_wh == 0
    finally:
        await reader.close()
    store = await EmbeddedUsageStore.open(path)
    try:
        await store.write("new", [_estimated(NOVEMBER_START + 20, 2.5, 0.1)])
        report = await usage_report(store, "2026-11")
        assert (report.total.requests, report.total.energy_micro_wh) == (2, 2_500_000)
    finally:
        await store.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (3,)
    connection.close()


@pytest.mark.asyncio
async def test_redis_entries_without_energy_read_zero(redis_url: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    store = RedisUsageStore.from_url(redis_url, prefix=prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        old = make_record(NOVEMBER_START + 10, request_id="old-request")
        fields = {
            name: "" if value is None else str(value) for name, value in msgspec.structs.asdict(old).items()
        }
        for newer in ("energy_wh", "emissions_gco2eq", "decision", "rule", "pii"):
            fields.pop(newer)
        base = f"{prefix}:usage:{{dgfip}}:2026-11"
        await client.xadd(f"{base}:records", fields)  # type: ignore[arg-type]
        await client.sadd(f"{prefix}:usage:months:2026-11:departments", "dgfip")
        (read,) = await read_all(store, "2026-11")
        assert read == old and read.energy_wh == 0
    finally:
        await client.aclose()
        await store.close()


@pytest.mark.asyncio
async def test_reports_show_energy_only_for_a_month_with_some(tmp_path: Path) -> None:
    store = await EmbeddedUsageStore.open(tmp_path / "gateway.usage.db")
    try:
        await store.write("tokens", [make_record(NOVEMBER_START + 5)])
        plain = await usage_report(store, "2026-11", by="model")
        assert "energy_wh" not in render_csv(plain)
        assert "energy_wh" not in (await admin_usage(store, period="2026-11"))["total"]
        await store.write("sized", [_estimated(NOVEMBER_START + 6, 0.25, 0.01)])
        csv_text = render_csv(await usage_report(store, "2026-11", by="model"))
        header = csv_text.splitlines()[0].split(",")
        assert header[-2:] == ["energy_wh", "emissions_gco2eq"]
        assert csv_text.splitlines()[1].split(",")[-2:] == ["0.250000", "0.010000"]
    finally:
        await store.close()
