"""The `auth` configuration section: API keys' secrets, failure limits and caches, and the issuers
whose JWTs are accepted beside keys.

Where keys are kept is the `store` section (`gateway.storage.StoreConfig`), shared with budgets and
usage. Secrets are never written here: the file names the environment variables that hold them (each
may instead give a file path in `<NAME>_FILE`, as Kubernetes mounts Secrets).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.oidc.settings import JwtIssuerConfig

__all__ = ["AuthConfig"]

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class AuthConfig(_Strict):
    """API keys: where their secrets come from, how failures are limited, how long caches trust."""

    pepper_env: Annotated[str, Field(pattern=_ENV_NAME)] = "GATEWAY_KEY_PEPPER"
    """Environment variable holding the key pepper (or `<NAME>_FILE`, a file holding it): the
    HMAC key of every stored key hash, at least 32 bytes, the same on every replica. Required with
    the Redis store; with the embedded store one is generated next to the database if unset
    (`data/gateway.pepper`, mode 0600). It cannot be rotated: a new pepper invalidates every key, so
    back it up with the store."""
    admin_key_env: Annotated[str, Field(pattern=_ENV_NAME)] = "GATEWAY_ADMIN_KEY"
    """Environment variable holding the bootstrap admin key (or `<NAME>_FILE`), at least 32
    printable characters. Unset: no bootstrap key. It authenticates as department `*`, service
    `platform`, role `admin`; use it to create the first keys, then unset it."""
    failed_auth_per_minute: Annotated[int, Field(ge=1, le=10_000)] = 20
    """Failed authentications within a sliding minute after which a client address is refused."""
    failed_auth_block_seconds: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    """How long such an address is refused (429), valid keys included."""
    failed_auth_max_addresses: Annotated[int, Field(ge=100, le=1_000_000)] = 10_000
    """Client addresses tracked per worker for the limit above (bounded memory)."""
    cache_max_age_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    """A safety net only: cached key records are dropped on change notifications, within a second;
    this bounds how long one could outlive an undetected notification failure."""
    unknown_key_cache_seconds: Annotated[float, Field(ge=0, le=300)] = 10.0
    """How long an unknown key id is answered without asking the store again (0: always ask)."""
    last_used_interval_seconds: Annotated[float, Field(ge=1, le=86_400)] = 60.0
    """A key's `last_used` is written at most this often per key and worker."""
    jwt_issuers: list[JwtIssuerConfig] = []
    """Identity providers whose JWTs the API accepts as bearer tokens beside API keys (for services
    that get short-lived tokens from the platform's provider). Empty: API keys only."""

    @model_validator(mode="after")
    def _issuers_once(self) -> AuthConfig:
        for field in ("name", "issuer"):
            values = [getattr(issuer, field) for issuer in self.jwt_issuers]
            twice = sorted({value for value in values if values.count(value) > 1})
            if twice:
                raise ValueError(f"auth.jwt_issuers: {field} given twice: {', '.join(twice)}")
        return self
