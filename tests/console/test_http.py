"""The console over plain HTTP: sessions, cookies, CSRF, access rules, and the API left alone."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx

from gateway.app import create_app
from gateway.console.csrf import SESSION_COOKIE
from tests.console.conftest import ConsoleSite, csrf_of, sign_in
from tests.gateway.conftest import CHAT_MODEL, gateway_config, issue_key
from tests.servers import serve_in_thread


def _cookie_header(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    raise AssertionError(f"no {name} cookie set")


def test_sign_in_gives_a_strict_httponly_cookie_without_the_key(site: ConsoleSite) -> None:
    with httpx.Client(timeout=10) as client:
        answer = sign_in(client, site.console, site.dgfip_admin_key)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/"
        cookie = _cookie_header(answer, SESSION_COOKIE)
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # plain HTTP here
        assert site.dgfip_admin_key not in cookie
        assert site.dgfip_admin_key.split("_", 2)[2] not in cookie, "the key's secret part leaked"
        page = client.get(f"{site.console}/")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "dgfip" in page.text


def test_the_cookie_is_secure_behind_a_trusted_tls_proxy(site: ConsoleSite) -> None:
    # The test server is uvicorn with its defaults, which trust X-Forwarded-Proto from 127.0.0.1; `gateway
    # serve` trusts only server.trusted_proxies (tests/gateway/test_forwarded_headers.py).
    with httpx.Client(timeout=10, headers={"x-forwarded-proto": "https"}) as client:
        form = client.get(f"{site.console}/login")
        assert "Secure" in _cookie_header(form, "sgw_console_login")


def test_wrong_and_non_admin_keys_are_refused(site: ConsoleSite) -> None:
    with httpx.Client(timeout=10) as client:
        assert sign_in(client, site.console, "sgw_aaaaaaaaaaaa_" + "A" * 43).status_code == 401
        refused = sign_in(client, site.console, site.user_key)
        assert refused.status_code == 403
        assert SESSION_COOKIE not in client.cookies
        assert client.get(f"{site.console}/", follow_redirects=False).headers["location"] == "/console/login"


def test_posts_without_the_csrf_token_are_refused(site: ConsoleSite) -> None:
    with httpx.Client(timeout=10) as client:
        # The sign-in form too: a page elsewhere cannot sign someone in.
        refused = client.post(f"{site.console}/login", data={"api_key": site.dgfip_admin_key})
        assert refused.status_code == 403
        assert sign_in(client, site.console, site.dgfip_admin_key).status_code == 303
        keys_page = client.get(f"{site.console}/keys")
        token = csrf_of(keys_page.text)
        form = {"service": "csrf-probe", "roles": "user"}
        assert client.post(f"{site.console}/keys", data=form).status_code == 403
        assert client.post(f"{site.console}/keys", data={**form, "csrf_token": "forged"}).status_code == 403
        other_origin = client.post(
            f"{site.console}/keys",
            data={**form, "csrf_token": token},
            headers={"origin": "https://attacker.example"},
        )
        assert other_origin.status_code == 403
        assert "csrf-probe" not in client.get(f"{site.console}/keys").text, "a refused post created a key"
        created = client.post(f"{site.console}/keys", data={**form, "csrf_token": token})
        assert created.status_code == 200 and "sgw_" in created.text


def test_the_origin_must_match_in_scheme_as_well_as_host(site: ConsoleSite) -> None:
    """A page served over plain HTTP on the console's own host (where a network attacker can write)
    must not post to the console served over HTTPS, nor the other way round."""
    host = site.url.removeprefix("http://")
    with httpx.Client(timeout=10) as client:
        sign_in(client, site.console, site.dgfip_admin_key)
        token = csrf_of(client.get(f"{site.console}/keys").text)
        form = {"service": "scheme-probe", "roles": "user", "csrf_token": token}
        other_scheme = client.post(f"{site.console}/keys", data=form, headers={"origin": f"https://{host}"})
        assert other_scheme.status_code == 403
        assert "scheme-probe" not in client.get(f"{site.console}/keys").text
        same = client.post(f"{site.console}/keys", data=form, headers={"origin": f"http://{host}"})
        assert same.status_code == 200 and "sgw_" in same.text


def test_a_token_from_another_session_does_not_work(site: ConsoleSite) -> None:
    with httpx.Client(timeout=10) as first, httpx.Client(timeout=10) as second:
        sign_in(first, site.console, site.dgfip_admin_key)
        sign_in(second, site.console, site.dgfip_admin_key)
        token = csrf_of(first.get(f"{site.console}/keys").text)
        refused = second.post(f"{site.console}/keys", data={"service": "x", "csrf_token": token})
        assert refused.status_code == 403


def test_the_api_is_not_behind_the_console_guard(site: ConsoleSite) -> None:
    with httpx.Client(timeout=10) as client:
        sign_in(client, site.console, site.dgfip_admin_key)  # console cookies exist, and are path-scoped
        created = client.post(
            f"{site.url}/admin/keys",
            json={"service": "api-no-csrf"},
            headers={"authorization": f"Bearer {site.dgfip_admin_key}"},
        )
        assert created.status_code == 201, created.text
        unknown = client.get(f"{site.url}/v1/nothing-here")
        assert unknown.headers["content-type"].startswith("application/json")


def test_a_forged_or_expired_session_cookie_is_ignored(site: ConsoleSite) -> None:
    with httpx.Client(timeout=10) as client:
        sign_in(client, site.console, site.dgfip_admin_key)
        cookie = client.cookies[SESSION_COOKIE]
        payload, signature = cookie.split(".")
        client.cookies.set(SESSION_COOKIE, payload[:-2] + "xx." + signature, path="/console")
        answer = client.get(f"{site.console}/", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/login"


def test_a_revoked_key_ends_its_session(site: ConsoleSite) -> None:
    admin_key = issue_key(site.config, "dgfip", "console-temp", "department-admin")
    with httpx.Client(timeout=10) as client:
        assert sign_in(client, site.console, admin_key).status_code == 303
        assert client.get(f"{site.console}/keys").status_code == 200
        revoked = httpx.delete(
            f"{site.url}/admin/keys/{admin_key.split('_')[1]}",
            headers={"authorization": f"Bearer {site.platform_key}"},
            timeout=10,
        )
        assert revoked.status_code == 200
        answer = client.get(f"{site.console}/keys", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/login"


def test_sign_out_forgets_the_session(site: ConsoleSite) -> None:
    with httpx.Client(timeout=10) as client:
        sign_in(client, site.console, site.dgfip_admin_key)
        token = csrf_of(client.get(f"{site.console}/").text)
        out = client.post(f"{site.console}/logout", data={"csrf_token": token})
        assert out.status_code == 303 and out.headers["location"].startswith("/console/login")
        assert SESSION_COOKIE not in client.cookies
        assert client.get(f"{site.console}/", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session_on_the_server(site: ConsoleSite) -> None:
    """A copy of the cookie taken before signing out (another tab's, a stolen one) stops working too."""
    with httpx.Client(timeout=10) as client, httpx.Client(timeout=10) as copy:
        sign_in(client, site.console, site.dgfip_admin_key)
        copy.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE], path="/console")
        assert copy.get(f"{site.console}/keys").status_code == 200
        token = csrf_of(client.get(f"{site.console}/").text)
        assert client.post(f"{site.console}/logout", data={"csrf_token": token}).status_code == 303
        answer = copy.get(f"{site.console}/keys", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
        # Another sign-in with the same key is a new session, unaffected.
        assert sign_in(client, site.console, site.dgfip_admin_key).status_code == 303
        assert client.get(f"{site.console}/keys").status_code == 200


def test_department_admins_stay_in_their_department(site: ConsoleSite) -> None:
    drees_request = site.seeded_ids["drees"][0]
    with httpx.Client(timeout=10) as client:
        sign_in(client, site.console, site.dgfip_admin_key)
        for path in (
            "/departments/drees",
            "/departments/drees/usage.csv",
            "/requests?department=drees",
            "/keys?department=drees",
            "/keys?department=*",
            "/backends",
            "/policies",
        ):
            assert client.get(f"{site.console}{path}").status_code == 403, path
        assert client.get(f"{site.console}/requests/{drees_request}").status_code == 404
        log = client.get(f"{site.console}/requests").text
        assert "drees" not in log and drees_request not in log
        overview = client.get(f"{site.console}/").text
        assert "drees" not in overview and "dinum" not in overview
        csv = client.get(f"{site.console}/departments/dgfip/usage.csv", params={"by": "service"})
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines()[0].startswith("department,service,requests")


def test_the_csv_export_is_the_usage_reports_csv(site: ConsoleSite) -> None:
    from gateway.metering import render_csv

    with httpx.Client(timeout=10) as client:
        sign_in(client, site.console, site.platform_key)
        for by in ("service", "model", "day"):
            expected = render_csv(site.report(by=by, department="drees"))
            csv = client.get(f"{site.console}/departments/drees/usage.csv", params={"by": by})
            assert csv.text == expected


def test_bad_input_gets_an_html_page(site: ConsoleSite) -> None:
    with httpx.Client(timeout=10) as client:
        sign_in(client, site.console, site.platform_key)
        for path, status in (
            ("/?period=novembre", 400),
            ("/requests?status=oops", 400),
            ("/requests?since=yesterday", 400),
            ("/departments/Not%20A%20Name", 404),
            ("/requests/not-an-id", 404),
            ("/keys/zzz/revoke", 404),
        ):
            answer = client.get(f"{site.console}{path}")
            assert answer.status_code == status, path
            assert answer.headers["content-type"].startswith("text/html"), path


def test_language_switch_is_remembered(site: ConsoleSite) -> None:
    with httpx.Client(timeout=10) as client:
        assert "Connexion" in client.get(f"{site.console}/login").text
        assert "Sign in to the console" in client.get(f"{site.console}/login?lang=en").text
        assert "Sign in to the console" in client.get(f"{site.console}/login").text


def test_no_console_when_switched_off() -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = gateway_config(
            [{"name": CHAT_MODEL, "backends": [{"url": "http://127.0.0.1:9"}]}],
            store={"kind": "embedded", "path": str(Path(folder) / "gateway.db")},
            console={"enabled": False},
        )
        with serve_in_thread(create_app(config)) as url, httpx.Client(timeout=10) as client:
            for path in ("/console/", "/console/login", "/console/static/console.css", "/console/requests"):
                assert client.get(f"{url}{path}").status_code == 404, path
            assert client.post(f"{url}/console/login", data={"api_key": "x"}).status_code == 404


def test_the_request_log_says_when_the_audit_log_cannot_be_read() -> None:
    for audit, message in (
        ({"enabled": False}, "désactivé"),
        ({"enabled": True, "path": "-"}, "sortie standard"),
    ):
        with tempfile.TemporaryDirectory() as folder:
            config = gateway_config(
                [{"name": CHAT_MODEL, "backends": [{"url": "http://127.0.0.1:9"}]}],
                store={"kind": "embedded", "path": str(Path(folder) / "gateway.db")},
                audit=audit,
            )
            admin = issue_key(config, "dgfip", "console-dgfip", "department-admin")
            with serve_in_thread(create_app(config)) as url, httpx.Client(timeout=10) as client:
                sign_in(client, f"{url}/console", admin)
                log = client.get(f"{url}/console/requests")
                assert log.status_code == 200 and message in log.text
                detail = client.get(f"{url}/console/requests/req-{0:024x}")
                assert detail.status_code == 200 and message in detail.text
                overview = client.get(f"{url}/console/")
                assert "pas écrit dans un fichier" in overview.text
