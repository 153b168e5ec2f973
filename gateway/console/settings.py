"""The `console` configuration section: the admin web console under `/console`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

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
