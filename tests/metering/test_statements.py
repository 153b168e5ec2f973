"""Monthly statements: `gateway usage statement` as CSV and PDF, summed exactly per service and model,
signed off with the audit log's chain heads; the PDF's pages rendered to PNG and its text read back."""

from __future__ import annotations

import asyncio
import csv
import io
import random
from collections import defaultdict
from pathlib import Path

import msgspec
import pypdfium2 as pdfium
import pytest
import yaml

from gateway.audit import AuditConfig, verify_chain
from gateway.audit.heads import chain_heads
from gateway.audit.writer import start_audit_log
from gateway.cli import main
from gateway.metering import EmbeddedUsageStore, micro_euros
from gateway.metering.records import micro_units
from gateway.metering.statement_pdf import statement_pdf
from gateway.metering.statements import ALL_MODELS, STATEMENT_COLUMNS, monthly_statement
from gateway.request_record import RequestRecord
from tests.metering.conftest import NOVEMBER_START, make_record

SERVICES = ("assistant-courrier", "chatbot-impots")
MODELS = ("mistral-small", "llama3:70b")


def _records(count: int) -> list[RequestRecord]:
    chosen = random.Random(7)
    records = []
    for index in range(count):
        record = make_record(
            NOVEMBER_START + 60 * index,
            "dgfip" if index % 5 else "dinum",  # another department's usage, never on dgfip's statement
            chosen.choice(SERVICES),
            chosen.choice(MODELS),
            prompt_tokens=chosen.randint(1, 3000),
            completion_tokens=chosen.randint(0, 800),
            cost_eur=chosen.randint(0, 5000) / 1_000_000,
        )
        records.append(
            msgspec.structs.replace(
                record,
                energy_wh=chosen.randint(0, 90_000) / 1_000_000,
                emissions_gco2eq=chosen.randint(0, 4000) / 1e6,
            )
        )
    return records


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Path, list[RequestRecord]]:
    """A configuration file, its usage store holding a month of records, and its chained audit log."""
    records = _records(400)
    audit = AuditConfig(enabled=True, path=str(tmp_path / "audit.jsonl"), hash_chain=True)

    async def fill() -> None:
        store = await EmbeddedUsageStore.open(tmp_path / "gateway.usage.db")
        try:
            await store.write("all", records)
        finally:
            await store.close()
        log = await start_audit_log(audit)
        assert log is not None
        for record in records:
            log.write(record)
        await log.close()

    asyncio.run(fill())
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": [{"name": "mistral-small", "backends": [{"url": "http://127.0.0.1:9"}]}],
                "store": {"kind": "embedded", "path": str(tmp_path / "gateway.db")},
                "audit": audit.model_dump(),
            }
        )
    )
    return config, records


def _expected(records: list[RequestRecord]) -> dict[tuple[str, str], list[int]]:
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 6)
    for record in records:
        if record.department != "dgfip":
            continue
        for key in ((record.service, record.model), (record.service, ALL_MODELS), ("TOTAL", "")):
            figures = sums[key]
            figures[0] += 1
            figures[1] += record.prompt_tokens
            figures[2] += record.completion_tokens
            figures[3] += micro_euros(record.cost_eur)
            figures[4] += micro_units(record.energy_wh)
            figures[5] += micro_units(record.emissions_gco2eq)
    return sums


def _micro(text: str) -> int:
    whole, fraction = text.split(".")
    return int(whole) * 1_000_000 + int(fraction)


def test_the_csv_statement_sums_exactly_and_is_signed_off_with_the_chain_head(
    deployment: tuple[Path, list[RequestRecord]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, records = deployment
    output = tmp_path / "statement.csv"
    status = main(["usage", "statement", "--config", str(config), "--period", "2026-11",
                   "--department", "dgfip", "--format", "csv", "--output", str(output)])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    text = output.read_text()
    rows = list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))
    assert list(rows[0]) == list(STATEMENT_COLUMNS)
    found = {
        (row["service"], row["model"]): [
            int(row["requests"]),
            int(row["prompt_tokens"]),
            int(row["completion_tokens"]),
            _micro(row["cost_eur"]),
            _micro(row["energy_wh"]),
            _micro(row["emissions_gco2eq"]),
        ]
        for row in rows
    }
    assert found == _expected(records)
    assert all(
        int(row["total_tokens"]) == int(row["prompt_tokens"]) + int(row["completion_tokens"]) for row in rows
    )

    audit_file = Path(yaml.safe_load(config.read_text())["audit"]["path"])
    chain = verify_chain([audit_file])
    assert chain.intact and chain.records == len(records)
    sign_off = [line for line in text.splitlines() if line.startswith("#")]
    assert any(
        f"last seq {chain.last_seq}, last line sha256 {chain.last_hash}, intact" in line for line in sign_off
    )
    assert any(line.startswith("# figures sha256 ") for line in sign_off)


def test_the_pdf_statement_renders_and_reads_back(
    deployment: tuple[Path, list[RequestRecord]], tmp_path: Path
) -> None:
    config, records = deployment
    output = tmp_path / "statement.pdf"
    status = main(["usage", "statement", "--config", str(config), "--period", "2026-11",
                   "--department", "dgfip", "--output", str(output)])  # fmt: skip
    assert status == 0
    document = pdfium.PdfDocument(output.read_bytes())
    try:
        assert len(document) >= 1
        text = ""
        for index in range(len(document)):
            page = document[index]
            image = page.render(scale=1.5).to_pil()
            image.save(tmp_path / f"page-{index}.png")
            # Something is drawn: the page is not blank, and its header band is the DSFR blue.
            assert image.convert("L").getextrema()[0] < 80
            text += page.get_textpage().get_text_range() + "\n"
    finally:
        document.close()
    assert (tmp_path / "page-0.png").stat().st_size > 10_000
    flat = " ".join(text.split())
    assert "Relevé mensuel de consommation : direction dgfip, novembre 2026" in flat
    total = _expected(records)[("TOTAL", "")]
    assert f"{total[3] // 1_000_000}.{total[3] % 1_000_000:06d}" in flat  # the total in euros
    for service in SERVICES:
        assert service in flat
    chain = verify_chain([Path(yaml.safe_load(config.read_text())["audit"]["path"])])
    assert chain.last_hash is not None and chain.last_hash in flat.replace(" ", "")
    assert "dinum" not in flat


@pytest.mark.asyncio
async def test_a_statement_without_a_chained_audit_log_says_so(tmp_path: Path) -> None:
    store = await EmbeddedUsageStore.open(tmp_path / "usage.db")
    try:
        await store.write("one", [make_record(NOVEMBER_START + 1)])
        statement = await monthly_statement(store, "2026-11", "dgfip", chain_heads(AuditConfig()))
    finally:
        await store.close()
    assert statement.chain_heads == () and statement.total.requests == 1
    assert b"%PDF" in statement_pdf(statement)[:8]
