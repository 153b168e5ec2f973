"""OpenID Connect: JWTs from the organisation's identity providers, for the API and the console.

    settings.py    JwtIssuerConfig (`auth.jwt_issuers`), OidcProviderConfig (`console.oidc_providers`),
                   ClaimRule (claims -> department, service, roles)
    discovery.py   a provider's metadata, from `<issuer>/.well-known/openid-configuration`
    jwks.py        ProviderKeys: its signing keys, cached, refreshed on rotation, failing closed
    tokens.py      verify_jwt: signature (joserfc), then iss, aud, exp, nbf, iat, nonce
    claims.py      map_claims: the configuration's rules
    bearer.py      BearerTokens: an API bearer JWT -> Principal
    errors.py      ProviderUnavailable, TokenRejected

No cryptography is written here: joserfc verifies every signature and claim.
"""

from gateway.oidc.bearer import BearerTokens, looks_like_jwt
from gateway.oidc.claims import claim_value, map_claims
from gateway.oidc.discovery import ProviderMetadata, fetch_metadata
from gateway.oidc.errors import OidcError, ProviderUnavailable, TokenRejected
from gateway.oidc.jwks import ProviderKeys
from gateway.oidc.settings import ClaimRule, JwtIssuerConfig, OidcProviderConfig
from gateway.oidc.tokens import verify_jwt

__all__ = [
    "BearerTokens",
    "ClaimRule",
    "JwtIssuerConfig",
    "OidcError",
    "OidcProviderConfig",
    "ProviderKeys",
    "ProviderMetadata",
    "ProviderUnavailable",
    "TokenRejected",
    "claim_value",
    "fetch_metadata",
    "looks_like_jwt",
    "map_claims",
    "verify_jwt",
]
