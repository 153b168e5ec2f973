"""The department page links to its monthly statement, in PDF and CSV, for its own department only."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx
import msgspec
import pypdfium2 as pdfium

from gateway.app import create_app
from gateway.metering import open_usage_store
from gateway.metering.statements import monthly_statement, render_statement_csv
from tests.console.conftest import ConsoleSite, sign_in
from tests.gateway.conftest import CHAT_MODEL, gateway_config, issue_key, running_simulator
from tests.metering.conftest import make_record
from tests.servers import serve_in_thread


def _figures(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_the_department_page_links_to_its_statement(site: ConsoleSite) -> None:
    with httpx.Client(timeout=20) as client:
        sign_in(client, site.console, site.dgfip_admin_key)
        page = client.get(f"{site.console}/departments/dgfip").text
        links = re.findall(
            r'href="(/console/departments/dgfip/statement\.(?:pdf|csv)\?period=[0-9-]+)"', page
        )
        assert len(links) == 2
        pdf_link = next(link for link in links if ".pdf" in link)
        answer = client.get(f"{site.url}{pdf_link}")
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
        assert 'filename="statement-dgfip-' in answer.headers["content-disposition"]
        document = pdfium.PdfDocument(answer.content)
        try:
            text = " ".join(document[0].get_textpage().get_text_range().split())
        finally:
            document.close()
        assert "direction dgfip" in text and "drees" not in text

        csv_link = next(link for link in links if ".csv" in link)
        csv_text = client.get(f"{site.url}{csv_link}").text
        period = csv_link.rsplit("=", 1)[1]

        async def expected() -> str:
            store = await open_usage_store(site.config.store, site.config.metering, read_only=True)
            try:
                return render_statement_csv(await monthly_statement(store, period, "dgfip"))
            finally:
                await store.close()

        assert _figures(csv_text) == _figures(asyncio.run(expected()))
        # Another department's statement is not this admin's to read.
        for kind in ("pdf", "csv"):
            assert client.get(f"{site.console}/departments/drees/statement.{kind}").status_code == 403
        assert client.get(f"{site.console}/departments/dgfip/statement.exe").status_code == 404


def test_the_department_page_shows_the_month_s_energy_when_estimated(tmp_path: Path) -> None:
    with running_simulator(CHAT_MODEL) as sim:
        config = gateway_config(
            [{"name": CHAT_MODEL, "backends": [{"url": sim}]}],
            store={"kind": "embedded", "path": str(tmp_path / "gateway.db")},
            console={"usage_cache_seconds": 0},
        )
        admin = issue_key(config, "dinum", "plateforme", "admin")
        now = time.time()
        records = [
            msgspec.structs.replace(
                make_record(now - 60 * index, "dgfip", "assistant-courrier", CHAT_MODEL),
                energy_wh=0.25,
                emissions_gco2eq=0.0125,
            )
            for index in range(4)
        ]

        async def seed() -> None:
            store = await open_usage_store(config.store, config.metering)
            try:
                await store.write("energy", records)
            finally:
                await store.close()

        asyncio.run(seed())
        with serve_in_thread(create_app(config)) as url, httpx.Client(timeout=20) as client:
            sign_in(client, f"{url}/console", admin)
            page = client.get(f"{url}/console/departments/dgfip", params={"lang": "en"}).text
        assert 'id="total-energy" data-value="1000000"' in page  # 4 x 0.25 Wh, in micro-Wh
        assert "Emissions (gCO2e)" in page or "Émissions (gCO2e)" in page
