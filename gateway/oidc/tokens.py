"""Checking a JWT: its signature against the provider's keys, then its claims (RFC 7519 §7.2,
OpenID Connect Core §3.1.3.7). joserfc does the cryptography and the claim checks; this module
only says which checks apply.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet

from gateway.oidc.errors import TokenRejected
from gateway.oidc.jwks import ProviderKeys

__all__ = ["MAX_TOKEN_BYTES", "unverified_issuer", "verify_jwt"]

MAX_TOKEN_BYTES = 16 * 1024
"""Longer bearer values are not taken for JWTs (the header of a request is bounded anyway)."""


def _split(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise TokenRejected("not a JWT")
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError):
        raise TokenRejected("malformed JWT") from None
    if not isinstance(claims, dict):
        raise TokenRejected("malformed JWT")
    return dict(compact.headers()), claims


def unverified_issuer(token: str) -> str | None:
    """The `iss` a token claims, before any check: only to pick which provider's keys to try."""
    _, claims = _split(token)
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


async def verify_jwt(
    token: str,
    keys: ProviderKeys,
    *,
    audiences: Collection[str],
    algorithms: Collection[str],
    clock_skew: int,
    nonce: str | None = None,
    require_expiry: bool = True,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The token's claims once its signature, `iss`, `aud`, `exp`, `nbf` and `iat` (and the `nonce`
    when one is given) hold (`require_expiry=False` for a signed userinfo answer, which need not
    carry `exp`, though one it carries is checked); `TokenRejected` otherwise, `ProviderUnavailable` when the keys cannot be
    fetched."""
    header, _ = _split(token)
    algorithm = header.get("alg")
    if algorithm not in algorithms:
        raise TokenRejected(f"algorithm {algorithm!r} not accepted")
    kid = header.get("kid")
    key_set: KeySet = await keys.key_set(kid if isinstance(kid, str) else None)
    try:
        decoded = jwt.decode(token, key_set, algorithms=list(algorithms))
    except (JoseError, ValueError):
        raise TokenRejected("bad signature or unknown key") from None
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": keys.issuer},
        "aud": {"essential": True, "values": list(audiences)},
        "exp": {"essential": require_expiry},
    }
    if nonce is not None:
        options["nonce"] = {"essential": True, "value": nonce}
    registry = jwt.JWTClaimsRegistry(now=lambda: int(clock()), leeway=clock_skew, **options)
    try:
        registry.validate(decoded.claims)
    except ExpiredTokenError:
        raise TokenRejected("expired") from None
    except JoseError as exc:
        raise TokenRejected(f"claims: {exc.error}") from None
    return decoded.claims
