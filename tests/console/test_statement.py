"""The department page links to its monthly statement, in PDF and CSV, for its own department only."""

from __future__ import annotations

import asyncio
import re

import httpx
import pypdfium2 as pdfium

from gateway.metering import open_usage_store
from gateway.metering.statements import monthly_statement, render_statement_csv
from tests.console.conftest import ConsoleSite, sign_in


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
