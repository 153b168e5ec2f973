"""What the stores hold about a key, and what the pipeline learns about a caller."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["KeyRecord", "KeyStatus", "Principal"]

KeyStatus = Literal["active", "expired", "revoked"]


class Principal(msgspec.Struct, frozen=True, gc=False):
    """The authenticated caller, as every later pipeline step sees it."""

    key_id: str
    """The key's id (`bootstrap-admin` for the bootstrap admin key); never the key itself."""
    department: str
    """The ministry direction the key belongs to: the Casbin domain. `*` for the bootstrap admin."""
    service: str
    """The team or application inside the department."""
    roles: tuple[str, ...]
    """Role names, given to Casbin as the subject's roles."""


class KeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One API key as stored. Times are epoch seconds, UTC.

    `hash` is HMAC-SHA256(pepper, key): not the key, yet still kept out of reprs, listings and logs.
    """

    id: str
    prefix: str
    """The display prefix `sgw_<id>`: the only part of a key that may be shown."""
    hash: str
    department: str
    service: str
    roles: tuple[str, ...]
    label: str = ""
    """Free text for people: what the key is for, who holds it."""
    created: int
    expires: int | None = None
    revoked: int | None = None
    last_used: int | None = None
    """Last successful use seen by a gateway process; written at most once a minute per key and
    process, so it may lag behind by that much."""

    def status(self, now: float) -> KeyStatus:
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and now >= self.expires:
            return "expired"
        return "active"

    def principal(self) -> Principal:
        return Principal(key_id=self.id, department=self.department, service=self.service, roles=self.roles)

    def __repr__(self) -> str:
        return (
            f"KeyRecord(id={self.id!r}, prefix={self.prefix!r}, department={self.department!r}, "
            f"service={self.service!r}, roles={self.roles!r}, label={self.label!r}, created={self.created}, "
            f"expires={self.expires}, revoked={self.revoked}, last_used={self.last_used})"
        )

    __str__ = __repr__
