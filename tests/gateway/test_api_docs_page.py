"""The reference page in a real headless browser (Debian's Chromium, driven by Playwright as in
tests/console): it lists every path of the document, is styled by the gateway's own stylesheet, runs
no script, and makes no request anywhere but to the gateway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from gateway.apidocs.document import openapi_document
from gateway.apidocs.routes import PAGE_PATH, STYLESHEET_PATH
from tests.console.conftest import ARTIFACTS, CHROMIUM, VIEWPORT, browser_available
from tests.gateway.conftest import SOLO_MODEL, RunningGateway, running_gateway


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    with running_gateway([{"name": SOLO_MODEL, "backends": [{"url": "http://127.0.0.1:9"}]}]) as running:
        yield running


@pytest.fixture(scope="module")
def browser(gateway: RunningGateway) -> Iterator[Browser]:
    # After the gateway: issuing its key runs an event loop, which Playwright's own loop would refuse.
    if not browser_available():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def test_the_page_lists_every_path_from_the_gateway_alone(gateway: RunningGateway, browser: Browser) -> None:
    context = browser.new_context(viewport=VIEWPORT, base_url=gateway.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    failed: list[str] = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security" in message.text else None,
    )
    try:
        answer = page.goto(PAGE_PATH)
        assert answer is not None and answer.status == 200
        document = openapi_document()
        expect(page.get_by_role("heading", level=1)).to_contain_text(document["info"]["title"])
        shown = page.locator("article.operation h3 code.path").all_inner_texts()
        expected = [path for path, item in document["paths"].items() for _ in item]
        assert sorted(shown) == sorted(expected)  # grouped by tag on the page
        for tag in document["tags"]:
            expect(page.get_by_role("heading", level=2, name=tag["name"], exact=True)).to_be_visible()
        chat = page.locator("article#chat")
        expect(chat.locator(".method")).to_have_text("POST")
        expect(chat.get_by_role("row", name="messages")).to_contain_text("yes")
        expect(chat.locator("table.responses")).to_contain_text("text/event-stream")
        expect(page.locator("article#messages .auth")).to_contain_text("x-api-key")
        # The stylesheet applied: the method badges are coloured by it.
        background = page.locator("article#chat .method").evaluate(
            "node => getComputedStyle(node).backgroundColor"
        )
        assert background == "rgb(0, 0, 145)"
        assert page.locator("script").count() == 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "api-reference.png")
    finally:
        context.close()
    assert gateway.url + STYLESHEET_PATH in requested
    foreign = [url for url in requested if not url.startswith(gateway.url + "/")]
    assert not foreign, f"the page fetched something from elsewhere: {foreign}"
    assert not refused, f"the Content-Security-Policy refused something: {refused}"
    # The browser asks for a favicon on its own; the page links nothing else that could fail.
    assert set(failed) <= {gateway.url + "/favicon.ico"}, failed
