"""Bearer JWTs on the API: a token from a configured issuer is checked and mapped to a principal.

The issuer a token claims picks which configuration applies (a token from anyone else is refused
before any network call); its signature, `iss`, `aud`, `exp`, `nbf` and `iat` are checked against
that issuer's keys; the rules map its claims. The principal's `key_id` is `<issuer name>:<subject>`,
which records and logs show: the token itself is never kept.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence

import httpx

from gateway.identity.records import Principal
from gateway.oidc.claims import map_claims, usable_subject
from gateway.oidc.errors import TokenRejected
from gateway.oidc.jwks import ProviderKeys
from gateway.oidc.settings import JwtIssuerConfig
from gateway.oidc.tokens import unverified_issuer, verify_jwt

__all__ = ["BearerTokens", "looks_like_jwt"]


def looks_like_jwt(token: str) -> bool:
    """A compact JWS (`header.payload.signature`, a JSON header); API keys never look like this."""
    return token.startswith("eyJ") and token.count(".") == 2


class BearerTokens:
    """The configured issuers of one worker and their cached keys."""

    def __init__(
        self,
        issuers: Sequence[JwtIssuerConfig],
        client: httpx.AsyncClient,
        *,
        on_keys_unavailable: Callable[[str], None] = lambda name: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._issuers: dict[str, tuple[JwtIssuerConfig, ProviderKeys]] = {}
        for config in issuers:
            keys = ProviderKeys(
                client,
                config.name,
                config.issuer,
                max_age=config.jwks_cache_seconds,
                min_refresh=config.jwks_refresh_min_seconds,
                on_failure=functools.partial(on_keys_unavailable, config.name),
            )
            self._issuers[config.issuer] = (config, keys)

    def __repr__(self) -> str:
        return f"BearerTokens({sorted(config.name for config, _ in self._issuers.values())})"

    async def principal(self, token: str) -> Principal:
        """The caller a token stands for; `TokenRejected` (401) or `ProviderUnavailable` (503)."""
        issuer = unverified_issuer(token)
        entry = self._issuers.get(issuer) if issuer is not None else None
        if entry is None:
            raise TokenRejected("issuer not configured")
        config, keys = entry
        claims = await verify_jwt(
            token,
            keys,
            audiences=config.audience,
            algorithms=config.algorithms,
            clock_skew=config.clock_skew_seconds,
            clock=self._clock,
        )
        subject = usable_subject(claims, config.subject_claim)
        if subject is None:
            raise TokenRejected(f"no usable `{config.subject_claim}` claim")
        principal = map_claims(claims, config.rules, f"{config.name}:{subject}")
        if principal is None:
            raise TokenRejected(f"no rule of issuer {config.name} maps the token's claims")
        return principal
