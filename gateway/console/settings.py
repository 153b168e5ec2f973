"""The `console` configuration section: the admin web console under `/console`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.oidc.settings import OidcProviderConfig

__all__ = ["ConsoleConfig"]


class ConsoleConfig(BaseModel):
    """The web console for administrators, served by the gateway itself (docs/console.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = True
    """Serve the console under `/console`. Off, every console URL answers 404."""
    session_minutes: Annotated[int, Field(ge=5, le=24 * 60)] = 60
    """How long a sign-in lasts; the key is checked again on every page, so a revoked key's session
    stops at once whatever this says."""
    secret_env: str = "GATEWAY_CONSOLE_SECRET"  # noqa: S105 - the name of a variable, not a secret
    """Environment variable (or `<NAME>_FILE`) holding the secret that signs session cookies, at least
    32 bytes and the same on every replica. Unset: derived from the key pepper."""
    secure_cookie: Literal["auto", "always"] = "auto"
    """`auto`: cookies are `Secure` when the request came over HTTPS (the
    `X-Forwarded-Proto` of a proxy in `server.trusted_proxies` included); `always`: whatever the scheme, for a TLS proxy the gateway does
    not trust."""
    language: Literal["fr", "en"] = "fr"
    """The language pages use until the person picks the other one."""
    usage_cache_seconds: Annotated[float, Field(ge=0, le=3600)] = 10.0
    """How long a worker reuses a month's usage figures before reading them again (0: every page
    reads the store). Older figures, up to six times this, are shown while they are read again in the
    background; pages say when they were read."""
    log_scan_mib: Annotated[int, Field(ge=1, le=4096)] = 32
    """Audit log read at most for one page of the request log, newest first: beyond it the page says
    the search stopped and asks for a narrower time range."""
    key_sign_in: bool = True
    """Offer sign-in by pasting an admin API key (the bootstrap admin key included). Turn it off once
    people sign in with `oidc_providers`: the form disappears and its address answers 404."""
    oidc_providers: list[OidcProviderConfig] = []
    """Identity providers people sign in with (OpenID Connect, authorization code flow with PKCE),
    one button each on the sign-in page; their claims map to a department and roles by `rules`, and
    the policy then decides, as for a key, what the person sees. See docs/console.md."""

    @model_validator(mode="after")
    def _providers_once(self) -> ConsoleConfig:
        names = [provider.name for provider in self.oidc_providers]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"console.oidc_providers: name given twice: {', '.join(twice)}")
        if not self.key_sign_in and self.enabled and not self.oidc_providers:
            raise ValueError("console.key_sign_in is off and no oidc_providers is set: nobody could sign in")
        return self
