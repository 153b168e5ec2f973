"""Signing in with an admin API key, signing out, and the check every page runs first.

Signing in authenticates the key with the gateway's own `Authenticator` (the same checks as the API,
and the same limit on failed attempts per address), then asks the policy whether the key may read
usage or manage keys in its department. The session cookie that follows holds the key's id, never
the key.

On every page, `signed_in` reads the session cookie and then the key's record from the store: a key
revoked, expired or deleted since the sign-in ends its session there and then, on every worker (the
store is shared), without any session store. The bootstrap admin key, which has no record, is
checked by its fingerprint against the key configured now. Signing out is recorded in the same
store until the session would have expired: the cookie, and any copy of it, is refused from then on.
"""

from __future__ import annotations

import secrets
import time

from litestar import get, post
from litestar.exceptions import NotFoundException, ServiceUnavailableException
from litestar.response import Redirect, Template

from gateway.console.access import Administrator
from gateway.console.csrf import LOGIN_COOKIE, LOGIN_FORM, SESSION_COOKIE, login_binding
from gateway.console.i18n import LABELS
from gateway.console.render import BASE, NotSignedIn, console_cookie, language_of, page, redirect
from gateway.console.state import console_of
from gateway.identity import (
    BOOTSTRAP_ADMIN,
    AuthenticationFailed,
    AuthenticationUnavailable,
    KeyStoreError,
    TooManyFailedAttempts,
)
from gateway.pipeline import client_address
from gateway.state import AnyRequest
from gateway.worker import worker_of

__all__ = ["AUTH_ROUTES", "login_page", "signed_in"]

_LOGIN_COOKIE_SECONDS = 3600


async def signed_in(request: AnyRequest) -> Administrator:
    """The signed-in administrator, checked against the store now; `NotSignedIn` otherwise."""
    console = console_of(request)
    worker = worker_of(request)
    gateway = worker.gateway
    now = time.time()
    session = console.codec.read(request.cookies.get(SESSION_COOKIE), now)
    if session is None:
        raise NotSignedIn()
    try:
        if await worker.key_store.session_ended(session.ended_id()):
            raise NotSignedIn()
    except KeyStoreError:
        raise NotSignedIn() from None
    if session.idp is not None:
        # Signed in with an identity provider: no key record; the provider must still be configured.
        if session.idp not in console.providers:
            raise NotSignedIn()
        principal = session.principal()
    elif session.kid == BOOTSTRAP_ADMIN.key_id:
        if console.admin_fingerprint is None or session.fp != console.admin_fingerprint:
            raise NotSignedIn()
        principal = BOOTSTRAP_ADMIN
    else:
        try:
            record = await worker.key_store.get(session.kid)
        except KeyStoreError:
            raise NotSignedIn() from None
        if record is None or record.status(now) != "active":
            raise NotSignedIn()
        principal = record.principal()
        if principal != session.principal():
            raise NotSignedIn()
    models = tuple(model.name for model in gateway.config.models)
    admin = Administrator(principal, gateway.authorizer, session.nonce, models)
    if not admin.may_use_console():
        raise NotSignedIn()  # the policy changed since the sign-in
    return admin


def login_page(request: AnyRequest, message: str | None, status: int, notice: str | None = None) -> Template:
    """The sign-in page: the key form (unless `key_sign_in` is off) and a button per provider."""
    console = console_of(request)
    value = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    cookie = console_cookie(request, LOGIN_COOKIE, value, _LOGIN_COOKIE_SECONDS)
    context = {
        "error": message,
        "notice": notice,
        "minutes": console.settings.session_minutes,
        "key_sign_in": console.settings.key_sign_in,
        "providers": [(name, provider.config.label) for name, provider in console.providers.items()],
    }
    return page(
        request,
        None,
        "login.html.j2",
        "sign_in_title",
        context,
        status_code=status,
        cookies=[cookie],
        csrf=console.codec.csrf_token(login_binding(value)),
    )


@get("/login", name="console-login")
async def login_form(request: AnyRequest) -> Template | Redirect:
    try:
        await signed_in(request)
    except NotSignedIn:
        labels = LABELS[language_of(request)]
        # `state`: back from signing out at an identity provider (oidc_signin.provider_logout_url).
        signed_out = "signed_out" in request.query_params or "state" in request.query_params
        notice = labels["signed_out"] if signed_out else None
        return login_page(request, None, 200, notice)
    return redirect(f"{BASE}/")


@post("/login", name="console-login-submit", opt={"csrf": LOGIN_FORM}, status_code=303)
async def login(request: AnyRequest) -> Template | Redirect:
    if not console_of(request).settings.key_sign_in:
        raise NotFoundException()
    labels = LABELS[language_of(request)]
    form = await request.form()
    key = form.get("api_key")
    worker = worker_of(request)
    if not isinstance(key, str) or not key.strip():
        return login_page(request, labels["sign_in_failed"], 401)
    try:
        principal = await worker.authenticator.authenticate(f"Bearer {key.strip()}", client_address(request))
    except TooManyFailedAttempts as exc:
        return login_page(request, labels["sign_in_blocked"].format(seconds=exc.retry_after), 429)
    except AuthenticationUnavailable:
        return login_page(request, labels["sign_in_unavailable"], 503)
    except AuthenticationFailed:
        return login_page(request, labels["sign_in_failed"], 401)
    console = console_of(request)
    admin = Administrator(principal, worker.gateway.authorizer, "")
    if not admin.may_use_console():
        return login_page(request, labels["sign_in_not_admin"], 403)
    minutes = console.settings.session_minutes
    fingerprint = console.admin_fingerprint if principal.key_id == BOOTSTRAP_ADMIN.key_id else None
    token = console.codec.issue(principal, int(time.time()), minutes, fingerprint=fingerprint)
    return redirect(
        f"{BASE}/",
        cookies=[
            console_cookie(request, SESSION_COOKIE, token, minutes * 60),
            console_cookie(request, LOGIN_COOKIE, "", 0),
        ],
    )


@post("/logout", name="console-logout", status_code=303)
async def logout(request: AnyRequest) -> Redirect | Template:
    """End the session: recorded in the store, so that every copy of the cookie is refused from now
    on, and forgotten by this browser. (Revoking the key ends all of its sessions at once.) A person
    who signed in with a provider that supports RP-initiated logout is sent there to end that
    session too, and comes back to the sign-in page."""
    from gateway.console.oidc_signin import hint_cookie, provider_logout_url  # it imports this module

    session = console_of(request).codec.read(request.cookies.get(SESSION_COOKIE), time.time())
    target = f"{BASE}/login?signed_out=1"
    if session is not None:
        try:
            await worker_of(request).key_store.end_session(session.ended_id(), session.exp)
        except KeyStoreError:
            # Saying "signed out" while the cookie still works elsewhere would be a lie.
            raise ServiceUnavailableException() from None
        provider_logout = await provider_logout_url(request, session.idp) if session.idp else None
        if provider_logout is not None:
            # A page that moves on, not a redirect: the console's `form-action 'self'` forbids a
            # form's redirect to another site.
            return page(
                request,
                None,
                "moving_on.html.j2",
                "sign_out",
                {"next": provider_logout, "message": LABELS[language_of(request)]["signing_out_provider"]},
                cookies=[console_cookie(request, SESSION_COOKIE, "", 0), hint_cookie(request, "", 0)],
            )
    return redirect(
        target, cookies=[console_cookie(request, SESSION_COOKIE, "", 0), hint_cookie(request, "", 0)]
    )


AUTH_ROUTES = [login_form, login, logout]
