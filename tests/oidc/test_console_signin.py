"""Signing in to the console with a real OpenID provider (oidc-provider on loopback) in a real
browser (Debian's Chromium through Playwright): the provider's login page, its consent page, back to
the console with the department's pages only; a person no rule maps refused with a clear page; a
replayed or forged answer refused; sign-out ending the provider's session too; key sign-in off."""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from gateway.app import create_app
from tests.console.conftest import CHROMIUM, VIEWPORT, browser_available
from tests.gateway.conftest import SOLO_MODEL, gateway_config, running_simulator
from tests.oidc.provider_fixture import (
    CONSOLE_CLIENT,
    CONSOLE_SECRET,
    RealProvider,
    free_port,
    running_provider,
)
from tests.servers import serve_in_thread

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "oidc"
SECRET_ENV = "TEST_CONSOLE_OIDC_SECRET"


@dataclass
class Site:
    url: str
    provider: RealProvider

    @property
    def console(self) -> str:
        return f"{self.url}/console"


def _console_provider(provider: RealProvider) -> dict[str, object]:
    return {
        "name": "ministere",
        "label": "Compte du ministère",
        "issuer": provider.issuer,
        "client_id": CONSOLE_CLIENT,
        "client_secret_env": SECRET_ENV,
        "scopes": ["openid", "email", "profile", "groups", "organization"],
        "rules": [
            # Keycloak style: a group claim.
            {"when": {"groups": "/dgfip/console-admins"}, "department": "dgfip", "service": "console",
             "roles": ["department-admin"]},
            # ProConnect style: the organisation's SIRET; its agents use the models, nothing more.
            {"when": {"siret": "11000201100044"}, "department": "dgfip", "service": "agents", "roles": ["user"]},
        ],
    }  # fmt: skip


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    port = free_port()
    with (
        pytest.MonkeyPatch.context() as patch,
        running_provider([f"http://127.0.0.1:{port}/console/oidc/callback"]) as provider,
        running_simulator(SOLO_MODEL) as sim,
        tempfile.TemporaryDirectory(prefix="console-oidc-") as folder,
    ):
        patch.setenv(SECRET_ENV, CONSOLE_SECRET)
        config = gateway_config(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            console={"oidc_providers": [_console_provider(provider)], "usage_cache_seconds": 0},
        )
        with serve_in_thread(create_app(config), port=port) as url:
            yield Site(url, provider)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not browser_available():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _loopback_only(route: Route) -> None:
    # The provider's development pages load a web font; nothing here may leave the machine.
    if route.request.url.startswith("http://127.0.0.1:"):
        route.continue_()
    else:
        route.abort()


def _page(browser: Browser) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport=VIEWPORT, locale="fr-FR")
    context.set_default_timeout(15_000)
    context.route("**/*", _loopback_only)
    page = context.new_page()
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return page, seen


def _sign_in_at_provider(page: Page, site: Site, login: str) -> str:
    """Through the provider's login and consent pages; the flow cookie the console had set."""
    page.goto(f"{site.console}/login")
    page.get_by_role("link", name="Se connecter avec Compte du ministère").click()
    page.wait_for_url(re.compile(re.escape(site.provider.issuer) + r"/interaction/"))
    flow = next(
        cookie["value"]
        for cookie in page.context.cookies(f"{site.console}/oidc/callback")
        if cookie["name"] == "sgw_console_oidc"
    )
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.screenshot(path=ARTIFACTS / f"provider-login-{login}.png")
    page.get_by_role("button", name="Sign-in").click()
    consent = page.get_by_role("button", name="Continue")
    consent.wait_for()
    page.screenshot(path=ARTIFACTS / f"provider-consent-{login}.png")
    consent.click()
    return flow


def test_a_department_administrator_signs_in_with_the_provider(site: Site, browser: Browser) -> None:
    page, seen = _page(browser)
    _sign_in_at_provider(page, site, "claire")
    page.wait_for_url(re.compile(r".*/console/$"))
    page.screenshot(path=ARTIFACTS / "console-after-provider.png", full_page=True)
    expect(page.locator("body")).to_contain_text("dgfip")
    # The department's pages only: not another department's, not the platform's.
    nav = page.get_by_role("navigation", name="Navigation principale")
    expect(nav.get_by_role("link", name="Clés")).to_be_visible()
    expect(nav.get_by_role("link", name="Serveurs")).to_have_count(0)
    for path in ("/departments/drees", "/backends", "/policies"):
        answer = page.goto(f"{site.console}{path}")
        assert answer is not None and answer.status == 403, path
    for path in ("/departments/dgfip", "/keys", "/requests"):
        answer = page.goto(f"{site.console}{path}")
        assert answer is not None and answer.status == 200, path
    # The flow went through the authorization code flow with PKCE, state and nonce.
    authorize = next(url for url in seen if url.startswith(f"{site.provider.issuer}/auth"))
    for parameter in (
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "response_type=code",
    ):
        assert parameter in authorize
    callback = next(url for url in seen if "/console/oidc/callback" in url)
    assert "code=" in callback

    # The same answer again, in this browser or another: refused (the flow was spent).
    again = page.goto(callback)
    assert again is not None and again.status == 400
    expect(page.get_by_role("alert")).to_contain_text("déjà utilisée")
    page.context.close()


def test_the_answer_cannot_be_replayed_with_the_flow_cookie(site: Site, browser: Browser) -> None:
    page, seen = _page(browser)
    flow = _sign_in_at_provider(page, site, "claire")
    page.wait_for_url(re.compile(r".*/console/$"))
    callback = next(url for url in seen if "/console/oidc/callback" in url)
    cookies = {"sgw_console_oidc": flow}
    replay = httpx.get(callback, cookies=cookies, timeout=10)
    assert replay.status_code == 400
    assert "sgw_console_session=" not in replay.headers.get("set-cookie", "")
    forged = httpx.get(re.sub(r"state=[^&]+", "state=forged", callback), cookies=cookies, timeout=10)
    assert forged.status_code == 400
    page.context.close()


@pytest.mark.parametrize(
    ("login", "said"),
    [
        ("paul", "aucune règle ne le rattache à un département"),
        ("marc", "sans droit d'administration"),  # mapped, but the policy gives a `user` no console
    ],
)
def test_a_person_without_a_mapping_or_rights_is_refused_with_a_clear_page(
    site: Site, browser: Browser, login: str, said: str
) -> None:
    page, _ = _page(browser)
    _sign_in_at_provider(page, site, login)
    page.wait_for_url(re.compile(r".*/console/oidc/callback.*"))
    expect(page.get_by_role("alert")).to_contain_text(said)
    page.screenshot(path=ARTIFACTS / f"console-refused-{login}.png", full_page=True)
    assert page.goto(f"{site.console}/") is not None
    page.wait_for_url(re.compile(r".*/console/login$"))
    page.context.close()


def test_signing_out_ends_the_provider_session_too(site: Site, browser: Browser) -> None:
    page, _ = _page(browser)
    _sign_in_at_provider(page, site, "claire")
    page.wait_for_url(re.compile(r".*/console/$"))
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies(f"{site.console}/")}
    session = cookies["sgw_console_session"]
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(re.compile(re.escape(site.provider.issuer) + r"/session/end.*"))
    for parameter in ("id_token_hint=", "client_id=gateway-console", "post_logout_redirect_uri=", "state="):
        assert parameter in page.url  # ProConnect requires the hint and the state
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(re.compile(r".*/console/login\?state=.*"))
    expect(page.get_by_role("status")).to_contain_text("déconnecté")
    # The old cookie is refused, and the provider asks for a login again.
    stale = httpx.get(f"{site.console}/", cookies={"sgw_console_session": session}, timeout=10)
    assert stale.status_code == 303 and stale.headers["location"].endswith("/console/login")
    page.goto(f"{site.console}/login")
    page.get_by_role("link", name="Se connecter avec Compte du ministère").click()
    page.wait_for_url(re.compile(re.escape(site.provider.issuer) + r"/interaction/"))
    expect(page.locator("input[name=login]")).to_be_visible()
    page.context.close()


def test_key_sign_in_can_be_turned_off(site: Site) -> None:
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, CONSOLE_SECRET)
        config = gateway_config(
            [{"name": SOLO_MODEL, "backends": [{"url": "http://127.0.0.1:9"}]}],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            console={"oidc_providers": [_console_provider(site.provider)], "key_sign_in": False},
        )
        with serve_in_thread(create_app(config)) as url:
            form = httpx.get(f"{url}/console/login", timeout=10)
            assert form.status_code == 200
            assert "Se connecter avec Compte du ministère" in form.text
            assert 'name="api_key"' not in form.text
            posted = httpx.post(f"{url}/console/login", data={"api_key": "x"}, timeout=10)
            assert posted.status_code in (403, 404)


def test_an_unreachable_provider_fails_closed_with_a_clear_page(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    dead = {**_console_provider(site.provider), "issuer": f"http://127.0.0.1:{free_port()}"}
    with (
        tempfile.TemporaryDirectory() as folder,
        pytest.MonkeyPatch.context() as patch,
        caplog.at_level(logging.ERROR, "gateway.oidc"),
    ):
        patch.setenv(SECRET_ENV, CONSOLE_SECRET)
        config = gateway_config(
            [{"name": SOLO_MODEL, "backends": [{"url": "http://127.0.0.1:9"}]}],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            console={"oidc_providers": [dead]},
            metrics={"allow_anonymous": True},
        )
        with serve_in_thread(create_app(config)) as url:
            answer = httpx.get(f"{url}/console/oidc/ministere/start", timeout=10)
            assert answer.status_code == 503
            assert "ne répond pas pour le moment" in answer.text
            assert 'name="api_key"' in answer.text  # the key form is still offered
            metrics = httpx.get(f"{url}/metrics", timeout=10).text
            assert 'gateway_identity_provider_keys_unavailable_total{provider="ministere"} 1.0' in metrics
            assert any("identity provider ministere" in record.getMessage() for record in caplog.records)
            assert httpx.get(f"{url}/console/oidc/unknown/start", timeout=10).status_code == 404
