"""What the configuration says about OpenID Connect: the issuers whose JWTs the API accepts
(`auth.jwt_issuers`), the providers people sign in to the console with (`console.oidc_providers`),
and the rules both use to turn a token's claims into a department, a service and roles.

Secrets are never written here: a client secret is named by its environment variable.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ClaimRule", "JwtIssuerConfig", "OidcProviderConfig"]

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_LABEL = r"^[a-z0-9][a-z0-9_-]{0,31}$"
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
"""Departments, services and roles: the names API keys are issued for (gateway/identity/management.py)."""
_URL = r"^https?://[^\s?#]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ClaimRule(_Strict):
    """One mapping rule. Rules are tried in order; the first whose `when` holds gives the caller its
    department, service and roles. A token no rule matches is refused."""

    when: dict[str, str] = {}
    """Claims and the value each must have: a string claim equal to it, or a list claim (such as
    `groups`) containing it. A dotted name reads inside an object claim (`realm_access.roles`).
    Empty: the rule matches every token of its issuer."""
    department: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    """The department given (the Casbin domain)."""
    department_claim: str | None = None
    """Or: the claim whose value is the department (it must be a valid department name)."""
    service: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    """The service given."""
    service_claim: str | None = None
    """Or: the claim whose value is the service, such as `client_id` or `azp` for an application's
    token (it must be a valid service name)."""
    roles: Annotated[list[Annotated[str, Field(pattern=NAME_PATTERN)]], Field(min_length=1)] = ["user"]
    """The roles given, as the policies name them (`user`, `department-admin`, `admin`...)."""

    @model_validator(mode="after")
    def _one_source_each(self) -> ClaimRule:
        if (self.department is None) == (self.department_claim is None):
            raise ValueError("give exactly one of `department` and `department_claim`")
        if (self.service is None) == (self.service_claim is None):
            raise ValueError("give exactly one of `service` and `service_claim`")
        return self


class _Issuer(_Strict):
    name: Annotated[str, Field(pattern=_LABEL)]
    """A short name for logs, metrics and records (`keycloak`, `proconnect`...)."""
    issuer: Annotated[str, Field(pattern=_URL)]
    """The issuer URL, exactly as tokens carry it in `iss`; the provider's metadata is read from
    `<issuer>/.well-known/openid-configuration`."""
    algorithms: Annotated[list[str], Field(min_length=1)] = ["RS256", "PS256", "ES256"]
    """Signature algorithms accepted (asymmetric only: the gateway holds no shared secret)."""
    clock_skew_seconds: Annotated[int, Field(ge=0, le=300)] = 30
    """Allowance on `exp`, `nbf` and `iat` for clocks that disagree."""
    jwks_cache_seconds: Annotated[int, Field(ge=10, le=86_400)] = 600
    """How long the provider's signing keys are used before they are fetched again. When they cannot
    be fetched after that, tokens are refused (503): the gateway fails closed."""
    jwks_refresh_min_seconds: Annotated[int, Field(ge=0, le=3600)] = 10
    """A token signed by a key not yet known makes the gateway fetch the keys again (a rotation), at
    most this often per issuer, so that made-up key ids cannot flood the provider."""
    rules: Annotated[list[ClaimRule], Field(min_length=1)]
    """How claims map to department, service and roles; the first rule that matches wins."""

    @model_validator(mode="after")
    def _asymmetric_only(self) -> _Issuer:
        refused = [alg for alg in self.algorithms if alg.upper().startswith("HS") or alg.lower() == "none"]
        if refused:
            raise ValueError(f"algorithms {refused} are not accepted: only public-key signatures are")
        return self


class JwtIssuerConfig(_Issuer):
    """An identity provider whose JWTs the API accepts as bearer tokens, beside API keys."""

    audience: Annotated[list[str], Field(min_length=1)]
    """Values of which `aud` must contain at least one (the gateway's own identifier at the provider)."""
    subject_claim: str = "sub"
    """The claim that names the caller in records and logs (`sub`, `client_id`, `azp`...): the token
    itself is never recorded. Choose an opaque identifier, never one such as `email` that is
    personal data in clear."""


class OidcProviderConfig(_Issuer):
    """An OpenID Connect provider people sign in to the console with (authorization code flow, PKCE)."""

    label: Annotated[str, Field(min_length=1, max_length=60)]
    """The button's text on the sign-in page (`ProConnect`, `Keycloak du ministère`...)."""
    client_id: Annotated[str, Field(min_length=1, max_length=200)]
    """The console's client id at the provider."""
    client_secret_env: Annotated[str, Field(pattern=_ENV_NAME)] | None = None
    """Environment variable (or `<NAME>_FILE`) holding the client secret; None for a public client
    (PKCE alone)."""
    scopes: list[str] = ["openid", "email", "profile"]
    """Scopes asked for (`openid` is always sent)."""
    public_url: Annotated[str, Field(pattern=_URL)] | None = None
    """The gateway's URL as browsers reach it (`https://gateway.example.gouv.fr`), from which the
    callback `<public_url>/console/oidc/callback` is made; None: taken from each request."""
    userinfo: bool = True
    """Read the person's claims from the provider's userinfo endpoint too, when it has one (ProConnect
    gives `siret`, `organizational_unit`... only there, as a signed JWT, which is then verified like
    the ID token); claims of the ID token win over those of the same name."""
    logout: bool = True
    """Sign-out also ends the provider's session when its metadata has an `end_session_endpoint`
    (RP-initiated logout)."""
