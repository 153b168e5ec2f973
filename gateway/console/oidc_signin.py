"""Signing in to the console with an OpenID Connect provider: authorization code flow with PKCE,
`state` and `nonce` (OpenID Connect Core §3.1, RFC 7636).

`GET /console/oidc/{name}/start` keeps the flow's secrets (state, nonce, PKCE verifier) in a short,
signed, HttpOnly cookie and sends the browser to the provider. `GET /console/oidc/callback` checks the
`state`, spends the flow (recorded as ended in the key store, so the same answer cannot be replayed,
with or without the cookie), exchanges the code with the verifier, verifies the ID token (signature by
the provider's JWKS, `iss`, `aud`, `exp`, `iat`, and the `nonce`), adds the userinfo endpoint's claims
about the same subject (ProConnect's organisation claims are there), maps the claims to a department and
roles, asks the policy whether that may use the console, and issues the same session cookie as a key
sign-in does (marked with the provider's name). A person no rule maps gets a page saying so.

The callback answers with a page that moves on to the console itself, rather than a redirect: the
session cookie is SameSite=Strict, and a browser sends it on the next page only if that navigation
starts on the console's own site, not in a redirect chain the provider's site began.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import logging
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
from litestar import get
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from gateway.console.access import Administrator
from gateway.console.auth import login_page
from gateway.console.csrf import SESSION_COOKIE
from gateway.console.i18n import LABELS
from gateway.console.identity_providers import ConsoleProvider
from gateway.console.render import BASE, SECURITY_HEADERS, console_cookie, language_of, page
from gateway.console.state import console_of
from gateway.identity import KeyStoreError
from gateway.oidc.claims import map_claims, usable_subject
from gateway.oidc.errors import ProviderUnavailable, TokenRejected
from gateway.oidc.tokens import verify_jwt
from gateway.state import AnyRequest
from gateway.worker import worker_of

__all__ = ["OIDC_ROUTES", "callback_url", "hint_cookie", "provider_logout_url"]

logger = logging.getLogger("gateway.console")

FLOW_COOKIE = "sgw_console_oidc"
HINT_COOKIE = "sgw_console_idt"
"""The ID token, sent back to the provider as `id_token_hint` at sign-out (ProConnect requires it):
a cookie of its own, sent to `/console/logout` only; too long a token is not kept."""
_MAX_HINT = 3500
_OAUTH_ERROR = re.compile(r"[a-z_]{1,40}")
"""An OAuth error code (`invalid_grant`, `access_denied`...): what of a provider's error is logged."""
_FLOW_SECONDS = 600
_FLOW_PURPOSE = b"oidc-flow"
_FLOW_ENDED = b"sovereign-gateway/console/oidc-flow-ended/v1\0"


class Flow(msgspec.Struct, frozen=True):
    """What the flow cookie holds between the start and the callback."""

    provider: str
    state: str
    nonce: str
    verifier: str
    expires: int

    def ended_id(self) -> str:
        return hashlib.sha256(_FLOW_ENDED + self.state.encode("ascii", "replace")).hexdigest()[:32]


def _public_base(request: AnyRequest, provider: ConsoleProvider) -> str:
    if provider.config.public_url is not None:
        return provider.config.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def callback_url(request: AnyRequest, provider: ConsoleProvider) -> str:
    return f"{_public_base(request, provider)}{BASE}/oidc/callback"


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _flow_cookie(request: AnyRequest, value: str, max_age: int) -> Cookie:
    # Lax, not Strict: the browser comes back from the provider's site with a top-level GET.
    cookie = console_cookie(request, FLOW_COOKIE, value, max_age)
    return dataclasses.replace(cookie, samesite="lax", path=f"{BASE}/oidc")


def hint_cookie(request: AnyRequest, value: str, max_age: int) -> Cookie:
    return dataclasses.replace(console_cookie(request, HINT_COOKIE, value, max_age), path=f"{BASE}/logout")


def _refused(request: AnyRequest, label: str, status: int) -> Template:
    response = login_page(request, LABELS[language_of(request)][label], status)
    response.cookies.append(_flow_cookie(request, "", 0))
    return response


@get("/oidc/{name:str}/start", name="console-oidc-start")
async def start(request: AnyRequest, name: FromPath[str]) -> Redirect | Template:
    console = console_of(request)
    provider = console.providers.get(name)
    if provider is None:
        raise NotFoundException()
    try:
        metadata = await provider.keys.metadata()
    except ProviderUnavailable:
        return _refused(request, "oidc_unavailable", 503)
    if metadata.authorization_endpoint is None or metadata.token_endpoint is None:
        logger.error("identity provider %s: its metadata has no authorization or token endpoint", name)
        return _refused(request, "oidc_unavailable", 503)
    flow = Flow(
        provider=name,
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        verifier=secrets.token_urlsafe(48),
        expires=int(time.time()) + _FLOW_SECONDS,
    )
    scopes = ["openid", *(scope for scope in provider.config.scopes if scope != "openid")]
    query = urlencode(
        {
            "response_type": "code",
            "client_id": provider.config.client_id,
            "redirect_uri": callback_url(request, provider),
            "scope": " ".join(scopes),
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": _challenge(flow.verifier),
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in metadata.authorization_endpoint else "?"
    sealed = console.codec.seal(_FLOW_PURPOSE, msgspec.json.encode(flow))
    return Redirect(
        f"{metadata.authorization_endpoint}{separator}{query}",
        status_code=303,
        headers=SECURITY_HEADERS,
        cookies=[_flow_cookie(request, sealed, _FLOW_SECONDS)],
    )


class _Tokens(msgspec.Struct, frozen=True):
    id_token: str
    access_token: str | None = None


async def _exchange(request: AnyRequest, provider: ConsoleProvider, code: str, flow: Flow) -> _Tokens:
    """The tokens the provider gives for `code`; `ProviderUnavailable` or `TokenRejected`."""
    metadata = await provider.keys.metadata()
    assert metadata.token_endpoint is not None  # checked at the start
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": callback_url(request, provider),
        "code_verifier": flow.verifier,
    }
    auth: tuple[str, str] | None = None
    if provider.client_secret is None:
        form["client_id"] = provider.config.client_id
    else:
        auth = (provider.config.client_id, provider.client_secret)
    client = worker_of(request).identity_client
    try:
        answer = await client.post(metadata.token_endpoint, data=form, auth=auth or httpx.USE_CLIENT_DEFAULT)
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"token endpoint: {type(exc).__name__}") from None
    if answer.status_code != 200:
        # A code already used, expired, or not ours: the provider's error code says which.
        try:
            error = str(answer.json().get("error", ""))
        except (ValueError, AttributeError):
            error = ""
        error = error if _OAUTH_ERROR.fullmatch(error) else ""
        raise TokenRejected(f"token endpoint answered {answer.status_code} {error}".strip())
    try:
        return msgspec.json.decode(answer.content, type=_Tokens)
    except msgspec.DecodeError:  # ValidationError included
        raise TokenRejected("no usable id_token in the token endpoint's answer") from None


async def _userinfo(
    request: AnyRequest, provider: ConsoleProvider, access_token: str, subject: object
) -> dict[str, Any]:
    """The person's claims from the userinfo endpoint (OpenID Connect Core §5.3): JSON, or a JWT
    signed by the provider and checked like the ID token; its `sub` must be the ID token's."""
    metadata = await provider.keys.metadata()
    if metadata.userinfo_endpoint is None:
        return {}
    client = worker_of(request).identity_client
    try:
        answer = await client.get(
            metadata.userinfo_endpoint, headers={"authorization": f"Bearer {access_token}"}
        )
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"userinfo endpoint: {type(exc).__name__}") from None
    if answer.status_code != 200:
        raise TokenRejected(f"userinfo endpoint answered {answer.status_code}")
    claims: Any
    if answer.headers.get("content-type", "").split(";")[0].strip() == "application/jwt":
        claims = await verify_jwt(
            answer.text.strip(),
            provider.keys,
            audiences=[provider.config.client_id],
            algorithms=provider.config.algorithms,
            clock_skew=provider.config.clock_skew_seconds,
            require_expiry=False,
        )
    else:
        try:
            claims = answer.json()
        except ValueError:
            claims = None
    if not isinstance(claims, dict) or claims.get("sub") != subject:
        raise TokenRejected("userinfo is not about the ID token's subject")
    return claims


@get("/oidc/callback", name="console-oidc-callback")
async def callback(request: AnyRequest) -> Template:
    console = console_of(request)
    worker = worker_of(request)
    params = request.query_params
    payload = console.codec.unseal(_FLOW_PURPOSE, request.cookies.get(FLOW_COOKIE))
    try:
        flow = msgspec.json.decode(payload, type=Flow) if payload is not None else None
    except msgspec.DecodeError:
        flow = None
    now = time.time()
    state = params.get("state") or ""
    if flow is None or flow.expires <= now or not hmac.compare_digest(state.encode(), flow.state.encode()):
        logger.info(
            "console sign-in refused: no flow under way for this answer (expired, replayed or forged)"
        )
        return _refused(request, "oidc_failed", 400)
    provider = console.providers.get(flow.provider)
    if provider is None:
        return _refused(request, "oidc_failed", 400)
    try:
        if await worker.key_store.session_ended(flow.ended_id()):
            logger.info("console sign-in refused: provider %s's answer was already used", flow.provider)
            return _refused(request, "oidc_failed", 400)
        await worker.key_store.end_session(flow.ended_id(), flow.expires)
    except KeyStoreError:
        return _refused(request, "oidc_unavailable", 503)
    if "error" in params or not params.get("code"):
        # The person declined, or the provider refused: its `error` is a code from a fixed list.
        error = params.get("error", "")
        shown = error if _OAUTH_ERROR.fullmatch(error) else "(not an OAuth error code)"
        logger.info("console sign-in with %s ended by the provider: %s", flow.provider, shown)
        return _refused(request, "oidc_failed", 401)
    try:
        tokens = await _exchange(request, provider, params["code"], flow)
        claims = await verify_jwt(
            tokens.id_token,
            provider.keys,
            audiences=[provider.config.client_id],
            algorithms=provider.config.algorithms,
            clock_skew=provider.config.clock_skew_seconds,
            nonce=flow.nonce,
        )
        audience = claims.get("aud")
        if (
            isinstance(audience, list)
            and len(audience) > 1
            and claims.get("azp") != provider.config.client_id
        ):
            # OpenID Connect Core §3.1.3.7: a token for several audiences names the one it was for.
            raise TokenRejected("several audiences and no azp naming the console")
        if provider.config.userinfo and tokens.access_token is not None:
            claims = {**await _userinfo(request, provider, tokens.access_token, claims.get("sub")), **claims}
    except ProviderUnavailable:
        return _refused(request, "oidc_unavailable", 503)
    except TokenRejected as exc:
        logger.info("console sign-in with %s refused: %s", flow.provider, exc.reason)
        return _refused(request, "oidc_failed", 401)
    subject = usable_subject(claims, "sub")
    principal = (
        map_claims(claims, provider.config.rules, f"{provider.config.name}:{subject}")
        if subject is not None
        else None
    )
    if principal is None:
        logger.info("console sign-in with %s refused: no rule maps the person's claims", flow.provider)
        return _refused(request, "oidc_unmapped", 403)
    if not Administrator(principal, worker.gateway.authorizer, "").may_use_console():
        return _refused(request, "oidc_not_admin", 403)
    minutes = console.settings.session_minutes
    token = console.codec.issue(principal, int(now), minutes, provider=provider.config.name)
    hint = tokens.id_token if len(tokens.id_token) <= _MAX_HINT else ""
    return page(
        request,
        None,
        "moving_on.html.j2",
        "sign_in_title",
        {"next": f"{BASE}/", "message": LABELS[language_of(request)]["signed_in_continue"]},
        cookies=[
            console_cookie(request, SESSION_COOKIE, token, minutes * 60),
            hint_cookie(request, hint, minutes * 60 if hint else 0),
            _flow_cookie(request, "", 0),
        ],
    )


async def provider_logout_url(request: AnyRequest, provider_name: str) -> str | None:
    """Where to send the browser to end its session at the provider too, if it supports that."""
    provider = console_of(request).providers.get(provider_name)
    if provider is None or not provider.config.logout:
        return None
    try:
        metadata = await provider.keys.metadata()
    except ProviderUnavailable:
        return None
    if metadata.end_session_endpoint is None:
        return None
    query: dict[str, Any] = {
        "client_id": provider.config.client_id,
        "post_logout_redirect_uri": f"{_public_base(request, provider)}{BASE}/login",
        "state": secrets.token_urlsafe(16),
    }
    hint = request.cookies.get(HINT_COOKIE)
    if hint and len(hint) <= _MAX_HINT:
        query["id_token_hint"] = hint
    separator = "&" if "?" in metadata.end_session_endpoint else "?"
    return f"{metadata.end_session_endpoint}{separator}{urlencode(query)}"


OIDC_ROUTES = [start, callback]
