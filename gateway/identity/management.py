"""Creating, listing and revoking keys: the operations behind `gateway keys` and the admin API.

Names: departments and services are `[a-z0-9][a-z0-9._-]{0,62}` (lowercase, so that `DGFiP` and
`dgfip` cannot become two budgets; no spaces or slashes, so they are safe in Casbin domains, metric
labels and Redis keys).

Roles are free-form names of the same shape, because the Casbin policies give them their meaning and
a ministry may need its own. Three names are understood by the default policies:

    user              calls the models its department may use (the default when no role is given)
    department-admin  also manages the keys and reads the usage of its own department
    admin             everything, in every department
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import timedelta

from gateway.identity.errors import DuplicateKeyId, InvalidKeyRequest, UnknownKey
from gateway.identity.keys import (
    KEY_PREFIX,
    Pepper,
    display_prefix,
    generate_key,
    hash_key,
    is_key_id,
    parse_key,
)
from gateway.identity.records import KeyRecord
from gateway.identity.store import KeyStore

__all__ = [
    "BUILTIN_ROLES",
    "DEFAULT_ROLES",
    "MAX_EXPIRY",
    "MAX_LABEL_LENGTH",
    "create_key",
    "key_id_from",
    "list_keys",
    "parse_duration",
    "revoke_key",
    "validate_name",
    "validate_roles",
]

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
BUILTIN_ROLES = ("user", "department-admin", "admin")
DEFAULT_ROLES = ("user",)
MAX_LABEL_LENGTH = 200
MAX_EXPIRY = timedelta(days=3660)
_DURATION_PART = re.compile(r"(\d{1,7})([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_ID_ATTEMPTS = 3


def validate_name(kind: str, value: str, *, param: str | None = None) -> str:
    """`value` if it is a valid department or service name, else InvalidKeyRequest (about `param`)."""
    if not _NAME.fullmatch(value):
        raise InvalidKeyRequest(
            f"{kind} {value!r} is not a valid name: 1 to 63 characters among a-z 0-9 . _ -, "
            "starting with a letter or digit",
            param=param,
        )
    return value


def validate_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """Role names in the given order without duplicates; `("user",)` when none is given."""
    unique: list[str] = []
    for role in roles:
        validate_name("role", role, param="roles")
        if role not in unique:
            unique.append(role)
    return tuple(unique) or DEFAULT_ROLES


def _validate_label(label: str) -> str:
    if len(label) > MAX_LABEL_LENGTH:
        raise InvalidKeyRequest(f"the label is longer than {MAX_LABEL_LENGTH} characters")
    if not label.isprintable():
        raise InvalidKeyRequest("the label must not contain control characters or line breaks")
    return label


def parse_duration(text: str) -> timedelta:
    """`90m`, `12h`, `30d`, `2w`, `1d12h` (units s, m, h, d, w) as a positive timedelta."""
    compact = text.strip().lower()
    position, seconds = 0, 0
    for match in _DURATION_PART.finditer(compact):
        if match.start() != position:
            break
        seconds += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not compact or position != len(compact):
        raise InvalidKeyRequest(
            f"{text!r} is not a duration: use a number and a unit, e.g. 90m, 12h, 30d, 2w"
        )
    duration = timedelta(seconds=seconds)
    if duration <= timedelta(0):
        raise InvalidKeyRequest("the duration must be longer than zero")
    if duration > MAX_EXPIRY:
        raise InvalidKeyRequest(f"the duration must not exceed {MAX_EXPIRY.days} days")
    return duration


def key_id_from(reference: str) -> str:
    """The key id in `reference`: an id, a display prefix `sgw_<id>`, or a whole key."""
    text = reference.strip()
    parsed = parse_key(text)
    if parsed is not None:
        return parsed[0]
    if text.startswith(KEY_PREFIX):
        text = text[len(KEY_PREFIX) :]
    if not is_key_id(text):
        # The reference may be a mistyped key: never echo it.
        raise InvalidKeyRequest(
            "not a key id: give the id or the display prefix (sgw_ and 12 characters)", param="key_id"
        )
    return text


async def create_key(
    store: KeyStore,
    pepper: Pepper,
    department: str,
    service: str,
    roles: Iterable[str] = (),
    expires_in: timedelta | None = None,
    label: str = "",
    *,
    now: int | None = None,
) -> tuple[KeyRecord, str]:
    """Create a key; returns its record and the key itself, which is not kept anywhere."""
    validate_name("department", department)
    validate_name("service", service)
    if service in BUILTIN_ROLES:
        # Policies name services and roles in the same column: a service called `admin` would
        # receive every right of the admin role.
        raise InvalidKeyRequest(f"service {service!r} is a role name; choose another service name")
    role_names = validate_roles(roles)
    _validate_label(label)
    if expires_in is not None and not timedelta(0) < expires_in <= MAX_EXPIRY:
        raise InvalidKeyRequest(f"the expiry must be within 1 second and {MAX_EXPIRY.days} days")
    created = int(time.time()) if now is None else now
    expires = None if expires_in is None else created + int(expires_in.total_seconds())
    for attempt in range(_ID_ATTEMPTS):
        key_id, key = generate_key()
        record = KeyRecord(
            id=key_id,
            prefix=display_prefix(key),
            hash=hash_key(pepper, key),
            department=department,
            service=service,
            roles=role_names,
            label=label,
            created=created,
            expires=expires,
        )
        try:
            await store.create(record)
        except DuplicateKeyId:
            # 60 random bits: two draws colliding means a broken random source, not bad luck.
            if attempt == _ID_ATTEMPTS - 1:
                raise
            continue
        return record, key
    raise AssertionError("unreachable")


async def list_keys(store: KeyStore, department: str | None = None) -> list[KeyRecord]:
    """The keys of `department` (of every department when None), oldest first."""
    if department is not None:
        validate_name("department", department, param="department")
    return await store.list(department)


async def revoke_key(store: KeyStore, reference: str, *, now: int | None = None) -> KeyRecord:
    """Revoke a key given by id, display prefix or whole key; returns its record as now stored.

    Revoking a revoked key changes nothing and returns it with its original revocation time.
    """
    key_id = key_id_from(reference)
    if await store.get(key_id) is None:
        raise UnknownKey(f"no key {display_prefix(key_id)}")
    await store.revoke(key_id, int(time.time()) if now is None else now)
    record = await store.get(key_id)
    if record is None:
        raise UnknownKey(f"no key {display_prefix(key_id)}")
    return record
