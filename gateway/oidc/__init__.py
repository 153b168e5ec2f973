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

Only the settings and errors are imported here (the configuration needs them before
`gateway.identity` exists); the rest is imported from its module.
"""

from gateway.oidc.errors import OidcError, ProviderUnavailable, TokenRejected
from gateway.oidc.settings import ClaimRule, JwtIssuerConfig, OidcProviderConfig

__all__ = [
    "ClaimRule",
    "JwtIssuerConfig",
    "OidcError",
    "OidcProviderConfig",
    "ProviderUnavailable",
    "TokenRejected",
]
