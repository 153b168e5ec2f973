"""Configuration sections of identity and access: `store` and `auth`.

Secrets are never written here: the file names the environment variables that hold them (each may
instead give a file path in `<NAME>_FILE`, as Kubernetes mounts Secrets).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["AuthConfig", "StoreConfig"]

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Strict):
    """Where keys (and later budgets and usage) are kept."""

    kind: Literal["embedded", "redis"] = "embedded"
    """`embedded`: a SQLite file on local disk, for one gateway process. `redis`: shared by several
    workers or replicas, with changes (revocations) broadcast to all of them at once."""
    path: Path = Path("data/gateway.db")
    """The SQLite file of the embedded store, created with its directory if missing."""
    url: str | None = None
    """Redis URL for `kind: redis`: `redis://host:6379/0`, `rediss://` for TLS. Never a password:
    use `password_env`. A user name (Redis ACL) may be given: `redis://gateway@host:6379/0`."""
    password_env: Annotated[str, Field(pattern=_ENV_NAME)] | None = None
    """Environment variable holding the Redis password (or `<NAME>_FILE`, a file holding it)."""
    prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")] = "sgw"
    """Prefix of every Redis key and channel, so that several gateways can share one Redis."""
    timeout: Annotated[float, Field(gt=0, le=60)] = 2.0
    """Seconds to connect to Redis or get an answer to one command."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL, e.g. redis://127.0.0.1:6379/0")
        if parts.password or "password=" in parts.query:
            raise ValueError(
                "must not contain a password: put it in an environment variable named by password_env"
            )
        return value

    @model_validator(mode="after")
    def _check_kind(self) -> StoreConfig:
        if self.kind == "redis" and self.url is None:
            raise ValueError("kind: redis needs a url, e.g. redis://127.0.0.1:6379/0")
        if self.kind == "embedded" and (self.url is not None or self.password_env is not None):
            raise ValueError("url and password_env are for kind: redis; the embedded store only uses path")
        return self

    def pepper_file(self) -> Path:
        """Where the embedded store keeps a generated pepper when none is given: next to the database."""
        return self.path.with_suffix(".pepper")


class AuthConfig(_Strict):
    """API keys: where their secrets come from, how failures are limited, how long caches trust."""

    pepper_env: Annotated[str, Field(pattern=_ENV_NAME)] = "GATEWAY_KEY_PEPPER"
    """Environment variable holding the key pepper (or `<NAME>_FILE`, a file holding it): the
    HMAC key of every stored key hash, at least 32 bytes, the same on every replica. Required with
    the Redis store; with the embedded store one is generated next to the database if unset. It
    cannot be rotated: a new pepper invalidates every key."""
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
