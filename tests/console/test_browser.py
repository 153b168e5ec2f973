"""The console in a real headless browser: Debian's Chromium driven by Playwright.

Each test signs in through the form, as a person would, and saves a screenshot of the pages it went
through under test-artifacts/console/. Every request the browser makes must go to the gateway: the
console works without the internet.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from gateway.authz import load_policy
from tests.console.conftest import CHROMIUM, REAL_REQUESTS, VIEWPORT, ConsoleSite, browser_available
from tests.gateway.conftest import CHAT_MODEL, POLICIES, SOLO_MODEL

ZONE = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not browser_available():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    try:
        yield browser
    finally:
        browser.close()


class Visit:
    """A browser tab on the console, remembering every URL it requested."""

    def __init__(self, browser: Browser, site: ConsoleSite, artifacts: Path, language: str = "fr") -> None:
        self.site = site
        self.artifacts = artifacts
        self.context = browser.new_context(
            viewport=VIEWPORT, base_url=site.url, locale="fr-FR" if language == "fr" else "en-GB"
        )
        self.context.set_default_timeout(10_000)
        self.page: Page = self.context.new_page()
        self.urls: list[str] = []
        self.page.on("request", lambda request: self.urls.append(request.url))

    def sign_in(self, key: str, *, screenshot: str | None = None) -> None:
        page = self.page
        page.goto("/console/login")
        page.get_by_label("Clé d'API").fill(key)
        if screenshot:
            self.shot(screenshot)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(re.compile(r".*/console/$"))

    def shot(self, name: str) -> None:
        self.page.screenshot(path=self.artifacts / name, full_page=True)

    def close(self) -> None:
        self.context.close()
        foreign = [url for url in self.urls if not url.startswith(self.site.url)]
        assert not foreign, f"the console fetched something from elsewhere: {foreign}"

    def unlabelled_fields(self) -> list[str]:
        """Form fields without a label (hidden ones excepted): there must be none."""
        result = self.page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                   .filter((field) => field.labels.length === 0).map((field) => field.outerHTML)"""
        )
        return list(result)


@pytest.fixture
def visit(browser: Browser, site: ConsoleSite, artifacts: Path) -> Iterator[Visit]:
    tab = Visit(browser, site, artifacts)
    try:
        yield tab
    finally:
        tab.close()


def _number(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text))


def test_overview_figures_are_the_usage_reports(visit: Visit, site: ConsoleSite) -> None:
    page = visit.page
    visit.sign_in(site.platform_key, screenshot="01-login.png")
    report = site.report(by="department")
    expect(page.get_by_role("heading", level=1)).to_have_text("Vue d'ensemble")
    assert int(page.locator("#total-requests").get_attribute("data-value") or -1) == report.total.requests
    assert int(page.locator("#total-tokens").get_attribute("data-value") or -1) == report.total.total_tokens
    assert _number(page.locator("#total-requests").inner_text()) == report.total.requests
    rows = page.locator("#by-department tbody tr")
    expect(rows).to_have_count(len(report.rows))
    for index, row in enumerate(report.rows):
        cells = rows.nth(index)
        assert cells.locator("th").inner_text() == row.key[0]
        assert (
            int(cells.locator("[data-total-tokens]").get_attribute("data-total-tokens") or -1)
            == row.total_tokens
        )
        assert _number(cells.locator("td").nth(0).inner_text()) == row.requests
    # The charts: one stacked bar chart by department, the budgets with their limits drawn.
    chart = page.get_by_role("img", name=re.compile("Jetons par jour et par département"))
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() >= len(report.rows)
    budgets = page.get_by_role("img", name=re.compile("Budgets du mois"))
    expect(budgets.locator("line.limit")).to_have_count(3)  # dgfip, drees, dgfip/assistant-courrier
    expect(budgets.locator("rect.over")).to_have_count(1)  # drees is over its 1,500 tokens, on any day
    top_models = page.locator("#top-models tbody th")
    expect(top_models).to_have_count(2)
    # The error rate comes from the audit log's latest requests: the 14 refused of 85.
    expect(page.locator("#error-rate")).to_have_text(re.compile(r"^16,5\s%$"))
    assert visit.unlabelled_fields() == []
    visit.shot("02-overview-platform.png")
    # Another month: nothing recorded then.
    previous = page.locator("#period option").nth(1).get_attribute("value") or ""
    page.get_by_label("Mois", exact=True).select_option(previous)
    page.get_by_role("button", name="Afficher").click()
    expect(page.get_by_text("Aucun usage enregistré pour cette période.")).to_be_visible()
    assert f"period={previous}" in page.url


def test_a_department_admin_sees_its_department_only(visit: Visit, site: ConsoleSite) -> None:
    page = visit.page
    visit.sign_in(site.dgfip_admin_key)
    dgfip = site.report(by="department", department="dgfip")
    assert int(page.locator("#total-requests").get_attribute("data-value") or -1) == dgfip.total.requests
    content = page.locator("main").inner_text()
    assert "drees" not in content and "dinum" not in content
    nav = page.get_by_role("navigation", name="Navigation principale")
    expect(nav.get_by_role("link")).to_have_text(
        ["Vue d'ensemble", "Département", "Journal des requêtes", "Lots", "Clés"]
    )
    visit.shot("03-overview-dgfip.png")

    nav.get_by_role("link", name="Département").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Département dgfip")
    by_service = site.report(by="service", department="dgfip")
    rows = page.locator("#by-service tbody tr")
    expect(rows).to_have_count(len(by_service.rows))
    for index, row in enumerate(by_service.rows):
        assert int(
            rows.nth(index).locator("[data-total-tokens]").get_attribute("data-total-tokens") or -1
        ) == (row.total_tokens)
    expect(page.get_by_role("img", name=re.compile("par service"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("par modèle"))).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="par service").click()
    assert download.value.suggested_filename.startswith("usage-dgfip-")
    visit.shot("04-department-dgfip.png")

    for path in ("/console/departments/drees", "/console/backends", "/console/keys?department=drees"):
        answer = page.goto(path)
        assert answer is not None and answer.status == 403, path
    expect(page.get_by_role("alert")).to_contain_text("Accès refusé")
    visit.shot("05-forbidden.png")

    page.goto("/console/requests")
    departments = page.locator("#request-log tbody tr td:nth-child(3)").all_inner_texts()
    assert departments and set(departments) == {"dgfip"}
    answer = page.goto(f"/console/requests/{site.seeded_ids['drees'][0]}")
    assert answer is not None and answer.status == 404


def _log_ids(page: Page) -> list[str]:
    return page.locator("#request-log tbody tr td:nth-child(2)").all_inner_texts()


def _local(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, ZONE).strftime("%Y-%m-%dT%H:%M")


def test_the_request_log_filters_and_pages(visit: Visit, site: ConsoleSite) -> None:
    page = visit.page
    visit.sign_in(site.platform_key)
    page.get_by_role("link", name="Journal des requêtes").click()
    expect(page.locator("#request-log tbody tr")).to_have_count(50)
    assert visit.unlabelled_fields() == []
    visit.shot("06-requests.png")

    # dgfip's refusals and rate limits (4xx), newest first.
    page.get_by_label("Département").fill("dgfip")
    page.get_by_label("Statut").select_option("4xx")
    page.get_by_role("button", name="Filtrer").click()
    expected = [rid for rid in reversed(site.seeded_ids["dgfip"]) if site.seeded[rid].status >= 400]
    assert _log_ids(page) == expected
    assert set(page.locator("#request-log td.status").all_inner_texts()) == {"403", "429"}

    # Every dgfip request over two pages: seeded and real, none twice, none missing.
    page.get_by_label("Statut").select_option("")
    page.get_by_role("button", name="Filtrer").click()
    first = _log_ids(page)
    assert len(first) == 50
    page.get_by_role("link", name="Requêtes plus anciennes").click()
    second = _log_ids(page)
    assert len(first) + len(second) == len(site.seeded_ids["dgfip"]) + REAL_REQUESTS
    assert not set(first) & set(second)
    assert set(site.seeded_ids["dgfip"]) <= set(first) | set(second)
    expect(page.get_by_role("link", name="Requêtes plus anciennes")).to_have_count(0)

    # A time range (local time, to the minute) and a request id.
    ids = site.seeded_ids["dgfip"]
    since = site.seeded[ids[10]].time
    until = site.seeded[ids[20]].time
    since_epoch = datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp()
    until_epoch = datetime.fromisoformat(until.replace("Z", "+00:00")).timestamp()
    page.goto("/console/requests?department=dgfip")
    page.get_by_label("Depuis").fill(_local(since_epoch + 60))
    page.get_by_label("Jusqu'à").fill(_local(until_epoch + 60))
    page.get_by_role("button", name="Filtrer").click()
    low, high = _local(since_epoch + 60), _local(until_epoch + 60)
    in_range = [
        rid for rid in reversed(ids)
        if low <= _local(datetime.fromisoformat(site.seeded[rid].time.replace("Z", "+00:00")).timestamp()) < high
    ]  # fmt: skip
    assert _log_ids(page) == in_range and len(in_range) == 10

    with_pii = next(rid for rid in ids if site.seeded[rid].pii)
    page.goto("/console/requests")
    page.get_by_label("Identifiant de requête").fill(with_pii)
    page.get_by_role("button", name="Filtrer").click()
    assert _log_ids(page) == [with_pii]
    page.get_by_role("link", name=with_pii).click()
    record = site.seeded[with_pii]
    details = page.locator("#request-record")
    expect(details).to_contain_text(record.trace_id or "")
    expect(page.locator("#record-decision")).to_have_text("autorisée")
    expect(page.locator("#record-rule")).to_have_text(record.rule or "")
    pii = page.locator("#pii-counts tbody tr")
    expect(pii).to_have_count(len(record.pii))
    expect(pii.first).to_contain_text("EMAIL")
    visit.shot("07-request-detail.png")


def test_create_a_key_then_revoke_it(browser: Browser, site: ConsoleSite, artifacts: Path) -> None:
    visit = Visit(browser, site, artifacts)
    visit.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page = visit.page
    try:
        visit.sign_in(site.dgfip_admin_key)
        page.get_by_role("link", name="Clés").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Clés de dgfip")
        expect(page.get_by_label("admin", exact=True)).to_have_count(0)  # only platform admins grant it
        assert visit.unlabelled_fields() == []
        visit.shot("08-keys.png")
        page.get_by_label("Service").fill("courrier-test")
        page.get_by_label("Libellé").fill("Essai de la console")
        page.get_by_label("Durée de validité").select_option("30d")
        page.get_by_role("button", name="Créer", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Clé créée")
        key = page.locator("#new-key").input_value()
        assert key.startswith("sgw_")
        visit.shot("09-key-created.png")
        page.get_by_role("button", name="Copier").click()
        expect(page.get_by_role("button", name="Copiée")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == key
        visit.shot("09-key-created.png")

        chat = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Bonjour"}], "max_tokens": 4}
        with httpx.Client(base_url=site.url, timeout=10) as client:
            auth = {"authorization": f"Bearer {key}"}
            assert client.post("/v1/chat/completions", json=chat, headers=auth).status_code == 200

            page.get_by_role("link", name="Retour aux clés").click()
            prefix = key[:16]
            table = page.locator('table[data-service="dgfip/courrier-test"]')
            expect(table.locator("tbody tr")).to_have_count(1)
            expect(table).to_contain_text("Essai de la console")
            table.get_by_role("link", name=f"Révoquer {prefix}").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(f"Révoquer la clé {prefix}")
            visit.shot("10-revoke-confirm.png")
            page.get_by_role("button", name="Oui, révoquer cette clé").click()
            expect(page.locator("#key-revoked")).to_have_text(f"Clé {prefix} révoquée.")
            expect(table.locator(".key-status")).to_have_text("révoquée")
            refused = client.post("/v1/chat/completions", json=chat, headers=auth)
            assert refused.status_code == 401

        # Without the form's token, the same post is refused even with the session's cookie.
        answer = page.request.post("/console/keys", form={"service": "sans-jeton"})
        assert answer.status == 403
        page.reload()
        expect(page.locator('table[data-service="dgfip/sans-jeton"]')).to_have_count(0)
    finally:
        visit.close()


def test_backends_and_policies(visit: Visit, site: ConsoleSite) -> None:
    page = visit.page
    visit.sign_in(site.platform_key)
    page.get_by_role("link", name="Serveurs").click()
    expect(page.locator("table.backends")).to_have_count(2)
    expect(page.locator("table.backends .badge").first).to_have_text("disponible")
    visit.shot("11-backends.png")

    page.get_by_role("link", name="Politiques").click()
    snapshot = load_policy(POLICIES / "model.conf", POLICIES / "policy.csv", cache_size=0)
    expect(page.locator("table.rules tbody tr")).to_have_count(
        len(snapshot.permissions) + len(snapshot.grants)
    )
    page.get_by_label("Département").fill("dgfip")
    page.get_by_label("Service").fill("assistant-courrier")
    page.get_by_label("Rôles de la clé").fill("user")
    page.get_by_label("Modèle").select_option(CHAT_MODEL)
    page.get_by_label("Opération").select_option("chat")
    page.get_by_role("button", name="Vérifier").click()
    decision = snapshot.decide("dgfip", "assistant-courrier", ("user",), CHAT_MODEL, "chat")
    assert decision.allowed and decision.rule is not None
    result = page.locator("#check-result")
    expect(result).to_contain_text("AUTORISÉ")
    expect(result).to_contain_text(f"{', '.join(decision.rule)} (ligne {snapshot.line_of(decision.rule)})")
    assert visit.unlabelled_fields() == []
    visit.shot("12-policies.png")

    page.get_by_label("Rôles de la clé").fill("")
    page.get_by_label("Modèle").select_option(SOLO_MODEL)
    page.get_by_label("Opération").select_option("embeddings")
    page.get_by_role("button", name="Vérifier").click()
    expect(result).to_contain_text("REFUSÉ")
    expect(result).to_contain_text("Aucune règle ne correspond")


def test_english_and_the_keyboard(visit: Visit, site: ConsoleSite) -> None:
    page = visit.page
    visit.sign_in(site.platform_key)
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    expect(page.get_by_role("img", name=re.compile("Tokens per day and department"))).to_be_visible()
    visit.shot("13-overview-en.png")
    page.get_by_role("link", name="Request log").click()  # the choice is remembered
    expect(page.get_by_role("heading", level=1)).to_have_text("Request log")
    # The first Tab reaches the skip link, which moves the focus to the content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # The navigation is reachable and usable with the keyboard alone.
    page.get_by_role("link", name="Keys").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Keys"))
