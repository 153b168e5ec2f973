"""Rendering a console page: the context every template shares, the headers every page carries, the
language choice, and the error pages.

Every page is `Cache-Control: no-store` (they show keys once, and usage that is not everybody's), and
carries a Content-Security-Policy that allows nothing but the console's own files: no inline script,
no inline style, no other origin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from litestar import Response
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap

from gateway.console.access import Administrator, Forbidden
from gateway.console.i18n import LABELS, Formatter, Language, language_or
from gateway.console.state import console_of
from gateway.metering.periods import load_zone
from gateway.state import AnyRequest, gateway_of

__all__ = [
    "BASE",
    "LANG_COOKIE",
    "SECURITY_HEADERS",
    "BadInput",
    "CsrfRefused",
    "NavItem",
    "NotSignedIn",
    "console_cookie",
    "error_handlers",
    "formatter_for",
    "language_of",
    "page",
    "redirect",
]

BASE = "/console"
LANG_COOKIE = "sgw_console_lang"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class NotSignedIn(Exception):
    """No session, or one that has ended: the person is sent to the sign-in page."""


class CsrfRefused(Exception):
    """A form posted without the token of the session (or of the sign-in page)."""


class BadInput(Exception):
    """400 with a message for the person: a malformed period, department, filter."""


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    label: str
    current: bool


def language_of(request: AnyRequest) -> Language:
    """`?lang=` first (the links of the language switch), then the cookie, then the configuration."""
    default = console_of(request).settings.language
    asked = request.query_params.get("lang")
    if asked is not None:
        return language_or(asked, default)
    return language_or(request.cookies.get(LANG_COOKIE), default)


def formatter_for(request: AnyRequest, language: Language) -> Formatter:
    return Formatter(language, load_zone(gateway_of(request).config.metering.timezone))


def _secure(request: AnyRequest) -> bool:
    return console_of(request).settings.secure_cookie == "always" or request.url.scheme == "https"


def console_cookie(request: AnyRequest, key: str, value: str, max_age: int) -> Cookie:
    """A cookie of the console's only: path /console, HttpOnly, SameSite=Strict, Secure over HTTPS."""
    return Cookie(
        key=key,
        value=value,
        path=BASE,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def _language_links(request: AnyRequest) -> dict[str, str]:
    query = {name: value for name, value in request.query_params.items() if name != "lang"}
    return {lang: f"{request.url.path}?{urlencode({**query, 'lang': lang})}" for lang in LABELS}


def _navigation(request: AnyRequest, admin: Administrator, labels: Mapping[str, str]) -> list[NavItem]:
    path = request.url.path
    items = [(f"{BASE}/", labels["nav_overview"], path in (BASE, f"{BASE}/"))]
    if not admin.is_platform:
        department = f"{BASE}/departments/{admin.department}"
        items.append((department, labels["nav_department"], path.startswith(f"{BASE}/departments/")))
    items.append((f"{BASE}/requests", labels["nav_requests"], path.startswith(f"{BASE}/requests")))
    if admin.may_read_usage(admin.usage_scope()):
        items.append((f"{BASE}/batches", labels["nav_batches"], path.startswith(f"{BASE}/batches")))
    if admin.may_manage_keys(admin.department):
        items.append((f"{BASE}/keys", labels["nav_keys"], path.startswith(f"{BASE}/keys")))
    if admin.may_see_platform():
        items.append((f"{BASE}/backends", labels["nav_backends"], path.startswith(f"{BASE}/backends")))
        items.append((f"{BASE}/policies", labels["nav_policies"], path.startswith(f"{BASE}/policies")))
    return [NavItem(href, label, current) for href, label, current in items]


def page(
    request: AnyRequest,
    admin: Administrator | None,
    template: str,
    title: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    cookies: Iterable[Cookie] = (),
    csrf: str | None = None,
) -> Template:
    """A rendered page. `title` is a label name or, already formatted, the title itself."""
    language = language_of(request)
    labels = LABELS[language]
    if admin is not None and csrf is None:
        csrf = console_of(request).codec.csrf_token(f"session:{admin.nonce}")
    all_cookies = list(cookies)
    if "lang" in request.query_params:
        all_cookies.append(console_cookie(request, LANG_COOKIE, language, 365 * 86400))
    shared: dict[str, Any] = {
        "t": labels,
        "lang": language,
        "fmt": formatter_for(request, language),
        "title": labels.get(title, title),
        "admin": admin,
        "nav": _navigation(request, admin, labels) if admin is not None else [],
        "csrf": csrf,
        "language_links": _language_links(request),
        "base": BASE,
    }
    return Template(
        template_name=template,
        context={**shared, **(context or {})},
        status_code=status_code,
        headers=SECURITY_HEADERS,
        cookies=all_cookies,
        media_type="text/html",
    )


def redirect(path: str, *, cookies: Iterable[Cookie] = ()) -> Redirect:
    """303 See Other: after a form, the browser GETs the next page."""
    return Redirect(path, status_code=303, headers=SECURITY_HEADERS, cookies=list(cookies))


def _error(request: AnyRequest, status: int, message: str) -> Template:
    return page(request, None, "error.html.j2", "error_title", {"message": message}, status_code=status)


def _forbidden(request: AnyRequest, exc: Forbidden) -> Template:
    return _error(request, 403, LABELS[language_of(request)]["forbidden"])


def _not_signed_in(request: AnyRequest, exc: NotSignedIn) -> Response[Any]:
    return redirect(f"{BASE}/login")


def _csrf(request: AnyRequest, exc: CsrfRefused) -> Template:
    return _error(request, 403, LABELS[language_of(request)]["csrf_failed"])


def _bad_input(request: AnyRequest, exc: BadInput) -> Template:
    return _error(request, 400, LABELS[language_of(request)]["bad_request"].format(reason=str(exc)))


def _http(request: AnyRequest, exc: HTTPException) -> Template:
    labels = LABELS[language_of(request)]
    if isinstance(exc, NotFoundException):
        return _error(request, 404, labels["not_found"])
    if isinstance(exc, NotAuthorizedException) or exc.status_code == 403:
        return _error(request, 403, labels["forbidden"])
    if exc.status_code < 500:
        return _error(request, exc.status_code, labels["bad_request"].format(reason=exc.detail))
    return _error(request, exc.status_code, labels["error_title"])


def error_handlers() -> ExceptionHandlersMap:
    """The console router's handlers: HTML pages instead of the API's JSON errors."""
    return {
        Forbidden: _forbidden,
        NotSignedIn: _not_signed_in,
        CsrfRefused: _csrf,
        BadInput: _bad_input,
        HTTPException: _http,
    }
