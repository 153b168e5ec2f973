"""Cross-site request forgery: every form the console posts carries a token that another site cannot know.

The token is HMAC(console secret, binding), in a hidden field `csrf_token`:

- signed in, the binding is the session's random nonce, which lives only in the HttpOnly session
  cookie: a new sign-in gives new tokens;
- on the sign-in page, where there is no session yet, the binding is a random value in a cookie of its
  own (`sgw_console_login`): a page elsewhere cannot sign someone in with its own key.

The guard below runs on the console's router only, for every method but GET, HEAD and OPTIONS; the
OpenAI API and the admin API are not behind it. It also refuses a post whose `Origin` header names
another origin, scheme included (pages are `Referrer-Policy: same-origin`, so browsers send it): a
page served over plain HTTP on the console's own host, which anyone on the network path can write,
is another origin than the console over HTTPS. Cookies are SameSite=Strict on top of this.
"""

from __future__ import annotations

import hmac
import time
from typing import Any
from urllib.parse import urlsplit

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from gateway.console.render import CsrfRefused, NotSignedIn
from gateway.console.state import console_of

__all__ = ["CSRF_FIELD", "LOGIN_COOKIE", "LOGIN_FORM", "SESSION_COOKIE", "csrf_guard", "login_binding"]

CSRF_FIELD = "csrf_token"
LOGIN_COOKIE = "sgw_console_login"
SESSION_COOKIE = "sgw_console_session"
LOGIN_FORM = "login"
"""The `opt["csrf"]` of the sign-in form's handler: its token is bound to the sign-in cookie."""

_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


def login_binding(value: str) -> str:
    return f"login:{value}"


def _same_origin(request: Request[Any, Any, Any]) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True  # not said (older browsers, privacy settings): the token decides alone
    # The scheme the browser used: the request's own (a trusted proxy's X-Forwarded-Proto included),
    # or HTTPS when the operator says the console is only ever reached through a TLS proxy it does not
    # trust for headers (console.secure_cookie: always).
    secure_only = console_of(request).settings.secure_cookie == "always"
    scheme = "https" if secure_only else request.url.scheme
    parts = urlsplit(origin)
    return parts.scheme == scheme and parts.netloc == request.headers.get("host", "")


async def csrf_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Refuse an unsafe request whose form lacks the token its session (or sign-in cookie) calls for."""
    if connection.scope.get("method", "GET") in _SAFE_METHODS:
        return
    if not isinstance(connection, Request):
        raise CsrfRefused()
    if not _same_origin(connection):
        raise CsrfRefused()
    codec = console_of(connection).codec
    if handler.opt.get("csrf") == LOGIN_FORM:
        cookie = connection.cookies.get(LOGIN_COOKIE)
        if not cookie:
            raise CsrfRefused()
        binding = login_binding(cookie)
    else:
        session = codec.read(connection.cookies.get(SESSION_COOKIE), time.time())
        if session is None:
            raise NotSignedIn()
        binding = f"session:{session.nonce}"
    form = await connection.form()
    given = form.get(CSRF_FIELD)
    if not isinstance(given, str) or not hmac.compare_digest(given, codec.csrf_token(binding)):
        raise CsrfRefused()
