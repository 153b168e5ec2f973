"""Errors of OpenID Connect: what the provider or a token got wrong, before it reaches a client.

    OidcError
    ├── ProviderUnavailable   the provider's metadata or keys cannot be fetched (fail closed: 503)
    └── TokenRejected         the token is not one to accept (401); `reason` is for logs only

Neither message ever quotes a token.
"""

from __future__ import annotations

__all__ = ["OidcError", "ProviderUnavailable", "TokenRejected"]


class OidcError(Exception):
    """Base of the OpenID Connect errors."""


class ProviderUnavailable(OidcError):
    """The provider's metadata or signing keys could not be fetched, and none still valid is cached."""


class TokenRejected(OidcError):
    """A token that fails a check: signature, issuer, audience, times, nonce, or the mapping."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
