"""`gateway usage report`: through `run_usage_command`, `run_usage`, and a real process."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.metering import EmbeddedUsageStore, MeteringConfig, UsageStore, usage_database_path
from gateway.metering.cli import add_usage_commands, run_usage, run_usage_command
from gateway.metering.redis_store import RedisUsageStore
from gateway.request_record import RequestRecord
from gateway.storage import StoreConfig
from tests.metering.conftest import (
    NOVEMBER_START,
    expected_rows,
    generate_records,
    make_record,
    write_in_batches,
)

REPOSITORY = Path(__file__).resolve().parents[2]


def parse(*argv: str) -> argparse.Namespace:
    root = argparse.ArgumentParser(prog="gateway")
    add_usage_commands(root.add_subparsers(dest="command", required=True))
    return root.parse_args(["usage", "report", *argv])


async def run(store: UsageStore, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = await run_usage_command(parse(*argv), store, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def records() -> list[RequestRecord]:
    return generate_records(1500, seed=42)


@pytest.mark.asyncio
async def test_every_format_reports_the_same_sums(store: UsageStore, records: list[RequestRecord]) -> None:
    await write_in_batches(store, records)
    expected = expected_rows(records, "2026-11", ("department", "service"), "dgfip")

    status, out, err = await run(store, "--period", "2026-11", "--by", "service", "--department", "dgfip",
                                 "--format", "json")  # fmt: skip
    assert status == 0 and err == ""
    document = json.loads(out)
    assert {(row["department"], row["service"]): row["requests"] for row in document["rows"]} == {
        key: sums["requests"] for key, sums in expected.items()
    }

    status, out, _ = await run(store, "--period", "2026-11", "--by", "service", "--department", "dgfip",
                               "--format", "csv")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and {
        (row["department"], row["service"]): int(row["total_tokens"]) for row in rows
    } == {key: sums["total_tokens"] for key, sums in expected.items()}

    status, out, _ = await run(store, "--period", "2026-11", "--by", "service", "--department", "dgfip")
    lines = out.splitlines()
    assert status == 0 and lines[0].endswith("department dgfip") and lines[-1].startswith("TOTAL")
    assert int(lines[-1].split()[1]) == sum(sums["requests"] for sums in expected.values())
    assert all(line.split()[0] == "dgfip" for line in lines[3:-2])


@pytest.mark.asyncio
async def test_bad_arguments_exit_2_and_an_empty_month_says_so(store: UsageStore) -> None:
    status, out, err = await run(store, "--period", "11-2026")
    assert (status, out) == (2, "") and "--period" in err and "YYYY-MM" in err
    status, out, err = await run(store, "--period", "2026-11", "--by", "user")
    assert (status, out) == (2, "") and "--by" in err
    status, out, err = await run(store, "--period", "2031-01")
    assert status == 0 and out.splitlines()[-1].split()[:2] == ["TOTAL", "0"]
    assert "no usage recorded in 2031-01" in err


def test_run_usage_opens_the_configured_embedded_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], records: list[RequestRecord]
) -> None:
    config = StoreConfig(kind="embedded", path=tmp_path / "data" / "gateway.db")

    async def fill() -> None:
        store = await EmbeddedUsageStore.open(usage_database_path(config))
        await write_in_batches(store, records)
        await store.close()

    assert run_usage(parse("--period", "2026-11"), config) == 1  # not created by a report
    assert "no usage database" in capsys.readouterr().err
    assert not usage_database_path(config).exists()

    asyncio.run(fill())
    assert usage_database_path(config) == tmp_path / "data" / "gateway.usage.db"
    assert run_usage(parse("--period", "2026-10", "--by", "model", "--format", "json"), config) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["total"]["requests"] == sum(
        sums["requests"] for sums in expected_rows(records, "2026-10", ("model",)).values()
    )
    # Another time zone moves the boundaries: in UTC, 00:30 on November 1 in Paris is still October.
    utc = MeteringConfig(timezone="UTC")
    assert run_usage(parse("--period", "2026-10", "--by", "day", "--format", "json"), config, utc) == 0
    document = json.loads(capsys.readouterr().out)
    utc_days = Counter(datetime.fromtimestamp(int(record.time), UTC).date().isoformat() for record in records)
    assert document["timezone"] == "UTC" and document["start"] == "2026-10-01T00:00:00+00:00"
    assert {row["day"]: row["requests"] for row in document["rows"]} == {
        day: count for day, count in utc_days.items() if day.startswith("2026-10")
    }


def test_run_usage_reads_redis_and_names_a_missing_password(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}"

    async def fill() -> None:
        store = RedisUsageStore.from_url(redis_url, prefix=prefix)
        await store.write(
            "batch-cli", [make_record(NOVEMBER_START + 60, prompt_tokens=7, completion_tokens=3)]
        )
        await store.close()

    asyncio.run(fill())
    config = StoreConfig(kind="redis", url=redis_url, prefix=prefix)
    assert run_usage(parse("--period", "2026-11", "--format", "csv"), config) == 0
    assert capsys.readouterr().out.splitlines()[1] == "dgfip,1,7,3,0,10,16,0.000000"

    locked = StoreConfig(kind="redis", url=redis_url, prefix=prefix, password_env="METERING_TEST_NO_SUCH_VAR")
    assert run_usage(parse("--period", "2026-11"), locked) == 1
    assert "METERING_TEST_NO_SUCH_VAR" in capsys.readouterr().err


def test_python_m_gateway_metering_prints_a_report(tmp_path: Path, records: list[RequestRecord]) -> None:
    database = tmp_path / "gateway.db"
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"models: [{{name: ignored-here}}]\nstore:\n  kind: embedded\n  path: {database}\n"
        "metering:\n  timezone: Europe/Paris\n",
        encoding="utf-8",
    )

    async def fill() -> None:
        store = await EmbeddedUsageStore.open(usage_database_path(StoreConfig(path=database)))
        await write_in_batches(store, records)
        await store.close()

    asyncio.run(fill())
    environment = {**os.environ, "GATEWAY_CONFIG": str(config)}
    finished = subprocess.run(
        [sys.executable, "-m", "gateway.metering", "usage", "report", "--period", "2026-11", "--by", "day",
         "--format", "json"],
        cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    document = json.loads(finished.stdout)
    expected = expected_rows(records, "2026-11", ("day",))
    assert {row["day"]: row["cost_micro_eur"] for row in document["rows"]} == {
        key[0]: sums["cost_micro_eur"] for key, sums in expected.items()
    }

    config.write_text("metering:\n  timezone: Mars/Olympus\n", encoding="utf-8")
    refused = subprocess.run(
        [sys.executable, "-m", "gateway.metering", "usage", "report", "--config", str(config), "--period", "2026-11"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert refused.returncode == 2 and "metering.timezone" in refused.stderr and refused.stdout == ""
