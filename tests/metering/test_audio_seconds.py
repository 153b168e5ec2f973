"""Audio seconds in the usage stores: written, summed and reported; what older gateways wrote reads 0."""

from __future__ import annotations

import csv
import io
import sqlite3
import uuid
from pathlib import Path

import msgspec
import pytest
import redis.asyncio as redis

from gateway.metering import EmbeddedUsageStore, UsageStore, admin_usage, usage_report
from gateway.metering.redis_store import RedisUsageStore
from gateway.metering.reports import render_csv, render_table
from gateway.request_record import RequestRecord
from tests.metering.conftest import NOVEMBER_START, make_record, read_all

# The usage database as the gateway before audio metering created it (schema version 1), written out
# here rather than taken from the code, which no longer has it.
_VERSION_1 = """
CREATE TABLE usage_records (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, request_id TEXT NOT NULL, department TEXT NOT NULL,
    service TEXT NOT NULL, key_id TEXT NOT NULL, model TEXT NOT NULL, backend TEXT NOT NULL,
    operation TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL, weighted_cost INTEGER NOT NULL, cost_eur REAL NOT NULL,
    cost_micro_eur INTEGER NOT NULL, latency_ms REAL NOT NULL, status INTEGER NOT NULL, trace_id TEXT
);
CREATE INDEX usage_records_time ON usage_records (time);
CREATE INDEX usage_records_department ON usage_records (department, time);
CREATE TABLE usage_batches (id TEXT PRIMARY KEY, written REAL NOT NULL);
CREATE INDEX usage_batches_written ON usage_batches (written);
PRAGMA user_version = 1;
INSERT INTO usage_records (time, request_id, department, service, key_id, model, backend, operation,
    prompt_tokens, completion_tokens, cached_tokens, weighted_cost, cost_eur, cost_micro_eur, latency_ms,
    status, trace_id)
VALUES (NOVEMBER + 10, 'old-request', 'dgfip', 'chatbot-impots', 'abcdefghijkl', 'mistral-small',
    'http://127.0.0.1:8001', 'chat', 100, 20, 0, 160, 0.5, 500000, 123.5, 200, NULL);
"""


def _audio(time: float, seconds: int, request_id: str = "audio-request") -> RequestRecord:
    return msgspec.structs.replace(
        make_record(time, prompt_tokens=0, completion_tokens=0, request_id=request_id), audio_seconds=seconds
    )


@pytest.mark.asyncio
async def test_seconds_are_stored_summed_and_read_back(store: UsageStore) -> None:
    record = _audio(NOVEMBER_START + 5, 42)
    await store.write("batch-1", [record, make_record(NOVEMBER_START + 6)])
    read = {stored.request_id: stored for stored in await read_all(store, "2026-11")}
    assert read["audio-request"] == record
    assert sum(stored.audio_seconds for stored in read.values()) == 42
    report = await usage_report(store, "2026-11", by="model")
    assert report.total.audio_seconds == 42 and report.rows[0].audio_seconds == 42


@pytest.mark.asyncio
async def test_a_database_of_the_previous_schema_opens_and_its_rows_read_zero(tmp_path: Path) -> None:
    path = tmp_path / "gateway.usage.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(_VERSION_1.replace("NOVEMBER", str(NOVEMBER_START)))
    connection.close()
    reader = await EmbeddedUsageStore.open(path, read_only=True)  # reads it, never upgrades it
    try:
        (old,) = await read_all(reader, "2026-11")
        assert old.request_id == "old-request" and old.audio_seconds == 0
        assert (await usage_report(reader, "2026-11")).total.requests == 1
    finally:
        await reader.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (1,)
    connection.close()

    store = await EmbeddedUsageStore.open(path)
    try:
        (old,) = await read_all(store, "2026-11")
        assert old.request_id == "old-request" and old.audio_seconds == 0 and old.cost_eur == 0.5
        await store.write("batch-new", [_audio(NOVEMBER_START + 20, 7)])
        report = await usage_report(store, "2026-11")
        assert (report.total.requests, report.total.audio_seconds) == (2, 7)
        assert report.total.cost_micro_eur == 500_000
    finally:
        await store.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (3,)  # the latest
    connection.close()
    reader = await EmbeddedUsageStore.open(path, read_only=True)  # upgraded: readable now
    try:
        assert len(await read_all(reader, "2026-11")) == 2
    finally:
        await reader.close()


@pytest.mark.asyncio
async def test_redis_entries_and_rollups_without_seconds_read_zero(redis_url: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    store = RedisUsageStore.from_url(redis_url, prefix=prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        # As a gateway before audio metering wrote them: no audio_seconds, in the entry or the rollup.
        old = make_record(NOVEMBER_START + 10, request_id="old-request")
        base = f"{prefix}:usage:{{dgfip}}:2026-11"
        member = '["2026-11-01","chatbot-impots","mistral-small"]'
        fields = {
            name: "" if value is None else str(value) for name, value in msgspec.structs.asdict(old).items()
        }
        for newer in ("audio_seconds", "decision", "rule", "pii"):
            fields.pop(newer)
        await client.xadd(f"{base}:records", fields)  # type: ignore[arg-type]
        await client.sadd(f"{prefix}:usage:months:2026-11:departments", "dgfip")
        await client.sadd(f"{base}:cells", member)
        await client.hset(f"{base}:cell:{member}", mapping={"requests": 1, "prompt_tokens": 100})

        (read,) = await read_all(store, "2026-11")
        assert read == old and read.audio_seconds == 0
        await store.write("batch-new", [_audio(NOVEMBER_START + 20, 9)])
        report = await usage_report(store, "2026-11")
        assert (report.total.requests, report.total.prompt_tokens, report.total.audio_seconds) == (2, 100, 9)
    finally:
        await client.aclose()
        await store.close()


@pytest.mark.asyncio
async def test_reports_show_seconds_only_for_a_month_with_audio(tmp_path: Path) -> None:
    store = await EmbeddedUsageStore.open(tmp_path / "gateway.usage.db")
    try:
        await store.write("tokens", [make_record(NOVEMBER_START + 5)])
        plain = await usage_report(store, "2026-11", by="model")
        assert "audio_seconds" not in render_csv(plain) and "AUDIO" not in render_table(plain)
        assert "audio_seconds" not in (await admin_usage(store, period="2026-11"))["total"]

        await store.write("audio", [_audio(NOVEMBER_START + 6, 61)])
        document = await admin_usage(store, period="2026-11", by="model")
        assert document["total"]["audio_seconds"] == 61 and document["rows"][0]["audio_seconds"] == 61
        assert list(document["total"])[4:6] == ["total_tokens", "audio_seconds"]
        report = await usage_report(store, "2026-11", by="model")
        (row,) = csv.DictReader(io.StringIO(render_csv(report)))
        assert row["audio_seconds"] == "61" and row["total_tokens"] == "120"
        assert render_table(report).splitlines()[-1].split()[6] == "61"  # TOTAL, requests, 4 token counts
    finally:
        await store.close()
